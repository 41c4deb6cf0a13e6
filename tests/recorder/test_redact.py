"""The client's API key never reaches the disk, not even when it also appears inside the body."""

from __future__ import annotations

import os

import httpx2

from tests.support.serving import proxy_for
from tests.support.store_rows import wait_rows

KEY = "sk-live-THIS-IS-SECRET-0123456789"


def disk_bytes(db) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


async def test_api_key_in_header_and_body_is_never_stored(scripted, db_path):
    async with proxy_for(scripted[0], db_path) as (proxy, app):
        body = {
            "model": "q",
            "messages": [{"role": "user", "content": f"my key is {KEY}, remember it"}],
            "stream": True,
        }
        async with httpx2.AsyncClient() as client:
            for path in ("/v1/chat/completions", "/v1/models"):
                response = await client.post(
                    proxy + path,
                    json=body,
                    headers={"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "Cookie": "session=abcdefghijk"},
                )
                assert response.status_code in (200, 404, 405)
        got = await wait_rows(db_path, 2)
        await app.recorder.flush()
    assert KEY.encode() not in disk_bytes(db_path)
    assert b"abcdefghijk" not in disk_bytes(db_path)
    assert "[REDACTED]" in got[0]["request_json"]
    assert '"authorization", "[REDACTED]"' in got[0]["request_headers"]
    # the upstream still got the real key: redaction is for the record only
    assert scripted[1].requests[0]["messages"][0]["content"].count(KEY) == 1


async def test_configured_upstream_key_is_sent_when_client_has_none_and_masked(monkeypatch, db_path):
    from proxy.server import running
    from tests.support.store_rows import Canned

    monkeypatch.setenv("MY_UPSTREAM_KEY", "upstream-key-987654321")
    upstream = Canned([b'{"echo": "upstream-key-987654321"}'], content_type=b"application/json")
    async with running(upstream) as up, proxy_for(up, db_path, api_key_env="MY_UPSTREAM_KEY") as (proxy, _):
        await httpx2.AsyncClient().post(proxy + "/v1/chat/completions", content=b'{"model": "q"}')
        (row,) = await wait_rows(db_path, 1)
    assert upstream.headers[0][b"authorization"] == b"Bearer upstream-key-987654321"
    assert "upstream-key-987654321" not in (row["response_json"] or "")
    assert os.environ["MY_UPSTREAM_KEY"]


async def test_configured_patterns_are_masked_and_keep_raw_keeps_masked_stream_bytes(scripted, db_path):
    from proxy.app import App
    from proxy.config import Config
    from proxy.server import running, uvicorn_config

    config = Config()
    config.llm.base_url = scripted[0] + "/v1"
    config.store.path, config.store.keep_raw, config.server.port = str(db_path), True, 0
    config.redact.patterns = [r"ghp_[A-Za-z0-9]{12}"]
    app = App(config)
    async with running(app, uvicorn_config(app, config)) as proxy:
        body = {"model": "q", "messages": [{"role": "user", "content": "token ghp_abcdefABCDEF here"}], "stream": True}
        async with httpx2.AsyncClient() as client:
            await client.post(proxy + "/v1/chat/completions", json=body)
        (row,) = await wait_rows(db_path, 1)
        await app.recorder.flush()
    assert "ghp_abcdefABCDEF" not in row["request_json"] and "token [REDACTED] here" in row["request_json"]
    assert row["response_raw"].startswith(b"data: {") and b"[DONE]" in row["response_raw"]
    assert b"ghp_abcdefABCDEF" not in disk_bytes(db_path)
