"""The LLM relay at its limits: deep JSON and bodies past [store] max_body_bytes are relayed whole
and recorded (raw with a note, or cut and flagged), with no traceback."""

from __future__ import annotations

import json
import logging

import httpx2

from proxy.app import App
from proxy.config import Config
from proxy.server import running, uvicorn_config
from tests.support.serving import proxy_for
from tests.support.store_rows import Canned, wait_rows


async def test_a_1000_level_request_is_relayed_and_recorded_raw_with_a_note(db_path, caplog):
    upstream = Canned([b'{"ok": true}'], content_type=b"application/json")
    deep = b'{"model": "m", "messages": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    with caplog.at_level(logging.INFO):
        async with running(upstream) as up, proxy_for(up, db_path) as (proxy, _):
            async with httpx2.AsyncClient() as client:
                response = await client.post(
                    proxy + "/v1/chat/completions", content=deep, headers={"content-type": "application/json"}
                )
            (row,) = await wait_rows(db_path, 1)
    assert response.status_code == 200 and upstream.bodies == [deep]
    assert row["request_raw"] == deep and row["request_json"] is None
    assert "nested too deeply" in row["note"] and row["response_json"] == '{"ok": true}'
    ours = [r for r in caplog.records if r.name.startswith(("tracemill", "uvicorn"))]  # not GC noise of other tests
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_stream_past_max_body_bytes_reaches_the_client_whole_and_is_stored_cut_and_flagged(db_path):
    pieces = [b'data: {"choices":[{"index":0,"delta":{"content":"%05d "}}]}\n\n' % i for i in range(20_000)]
    upstream = Canned([*pieces, b"data: [DONE]\n\n"])
    config = Config()
    config.store.path, config.server.port, config.store.max_body_bytes = str(db_path), 0, 100_000
    async with running(upstream) as up:
        config.llm.base_url = up + "/v1"
        app = App(config)
        async with running(app, uvicorn_config(app, config)) as proxy, httpx2.AsyncClient() as client:
            response = await client.post(proxy + "/v1/chat/completions", json={"model": "m", "stream": True})
            (row,) = await wait_rows(db_path, 1)
    assert response.content == b"".join(pieces) + b"data: [DONE]\n\n"  # the client saw every byte
    assert row["body_truncated"] == 1 and "max_body_bytes = 100000" in row["note"]
    content = json.loads(row["response_json"])["choices"][0]["message"]["content"]
    assert content.startswith("00000 00001 ") and 1_000 < len(content) < 20_000  # cut at a whole event
    assert row["error"] is None  # the cut is a flag, not a broken event


async def test_a_deep_answer_with_token_capture_on_reaches_the_client_and_is_recorded(db_path):
    deep = b'{"choices": ' + b"[" * 1000 + b"]" * 1000 + b', "return_token_ids": true}'
    upstream = Canned([deep], content_type=b"application/json")
    async with running(upstream) as up, proxy_for(up, db_path, capture_tokens=True) as (proxy, _):
        async with httpx2.AsyncClient() as client:
            response = await client.post(proxy + "/v1/chat/completions", json={"model": "m", "messages": []})
        (row,) = await wait_rows(db_path, 1)
    assert response.status_code == 200 and response.content == deep
    assert row["response_raw"] == deep and "nested too deeply" in row["note"]
