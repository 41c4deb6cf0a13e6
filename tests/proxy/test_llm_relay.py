"""End to end: the openai SDK through the real proxy to a vLLM-like upstream, on real sockets."""

from __future__ import annotations

import json

import httpx2
import pytest
from openai import AsyncOpenAI

from proxy.fakes.demo import TOOLS
from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from tests.support.serving import proxy_for
from tests.support.store_rows import wait_rows

MESSAGES = [{"role": "user", "content": "What's the weather in Paris?"}]


async def raw_post(url: str, payload: dict, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as client:
        return await client.post(url, json=payload, headers=headers)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("parallel", [1, 2])
async def test_stream_and_plain_bodies_are_byte_identical_and_record_the_same_message(db, field, parallel):
    upstream = ScriptedUpstream(Script(reasoning_field=field))
    async with running(upstream) as up, proxy_for(up, db) as (proxy, _):
        payload = {"model": "qwen", "messages": MESSAGES, "tools": TOOLS, "temperature": 0.6}
        headers = {"x-script-parallel": str(parallel)}
        for stream in (False, True):
            body = {**payload, "stream": stream}
            direct = await raw_post(up + "/v1/chat/completions", body, **headers)
            proxied = await raw_post(proxy + "/v1/chat/completions", body, **headers)
            assert proxied.status_code == direct.status_code == 200
            assert proxied.content == direct.content
            assert proxied.headers["content-type"] == direct.headers["content-type"]
        plain_message = json.loads((await raw_post(up + "/v1/chat/completions", payload, **headers)).content)[
            "choices"
        ][0]["message"]
        recorded = await wait_rows(db, 2)
    messages = [json.loads(r["response_json"])["choices"][0]["message"] for r in recorded]
    assert messages[0] == plain_message
    assert messages[1] == plain_message  # the stream, reassembled, equals the non-streamed answer
    assert len(plain_message["tool_calls"]) == parallel
    assert [r["reasoning_field"] for r in recorded] == [field, field]
    request = json.loads(recorded[1]["request_json"])
    assert request["tools"] == TOOLS and request["temperature"] == 0.6 and request["stream"] is True


async def test_openai_sdk_streaming_tool_calls_through_proxy(proxy, db):
    client = AsyncOpenAI(base_url=proxy + "/v1", api_key="sk-test-key-abcdefgh")
    stream = await client.chat.completions.create(
        model="qwen",
        messages=MESSAGES,
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-script-parallel": "2"},
    )
    args: dict[int, str] = {}
    async for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                args[call.index] = args.get(call.index, "") + (call.function.arguments or "")
    await client.close()
    assert [json.loads(a)["city"] for a in args.values()] == ["Paris", "Tokyo"]
    (row,) = await wait_rows(db, 1)
    completion = json.loads(row["response_json"])
    assert [json.loads(c["function"]["arguments"]) for c in completion["choices"][0]["message"]["tool_calls"]] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert row["stream"] == 1 and row["completion_tokens"] > 0 and row["ttfb_ms"] > 0
    assert row["duration_ms"] >= row["ttfb_ms"]


async def test_n_two_streamed_records_both_choices(proxy, db):
    await raw_post(proxy + "/v1/chat/completions", {"model": "q", "messages": MESSAGES, "n": 2, "stream": True})
    (row,) = await wait_rows(db, 1)
    choices = json.loads(row["response_json"])["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert choices[0]["message"] == choices[1]["message"]


async def test_other_v1_paths_pass_through_and_are_recorded_raw(proxy, scripted, db):
    direct = await httpx2.AsyncClient().get(scripted[0] + "/v1/models")
    proxied = await httpx2.AsyncClient().get(proxy + "/v1/models")
    assert proxied.content == direct.content and proxied.status_code == 200
    missing = await httpx2.AsyncClient().post(proxy + "/v1/embeddings?x=1", content=b'{"input": "a"}')
    assert missing.status_code == 404  # the upstream's own 404, passed through
    assert "no route /v1/embeddings" in missing.text
    got = await wait_rows(db, 2)
    assert [(r["method"], r["path"], r["status"]) for r in got] == [
        ("GET", "/v1/models", 200),
        ("POST", "/v1/embeddings", 404),
    ]
    assert got[1]["upstream"].endswith("/v1/embeddings?x=1")
    assert json.loads(got[0]["response_json"])["data"][0]["object"] == "model"


async def test_session_from_path_prefix_and_headers(proxy, db):
    await raw_post(proxy + "/s/run-42/v1/chat/completions", {"model": "q", "messages": MESSAGES})
    await raw_post(
        proxy + "/v1/chat/completions", {"model": "q", "messages": MESSAGES}, **{"X-Tracemill-Session": "hdr"}
    )
    await raw_post(
        proxy + "/v1/chat/completions", {"model": "q", "messages": MESSAGES}, **{"X-Claude-Code-Session-Id": "cc-1"}
    )
    await raw_post(proxy + "/v1/chat/completions", {"model": "q", "messages": MESSAGES})
    got = await wait_rows(db, 4)
    assert [r["session"] for r in got] == ["run-42", "hdr", "cc-1", None]
    assert got[0]["path"] == "/v1/chat/completions"


async def test_non_json_body_is_forwarded_as_is_and_recorded_raw(proxy, scripted, db):
    response = await httpx2.AsyncClient().post(proxy + "/v1/chat/completions", content=b"not json at all")
    assert response.status_code == 400 and "not JSON" in response.text
    (row,) = await wait_rows(db, 1)
    assert row["request_raw"] == b"not json at all" and row["request_json"] is None
    assert row["status"] == 400 and row["error"] == "body is not JSON"


async def test_ten_megabyte_request_body(proxy, db):
    big = "x" * (10 * 1024 * 1024)
    response = await raw_post(
        proxy + "/v1/chat/completions", {"model": "q", "messages": [{"role": "user", "content": big}]}
    )
    assert response.status_code == 200
    (row,) = await wait_rows(db, 1)
    assert len(json.loads(row["request_json"])["messages"][0]["content"]) == len(big)


async def test_healthz_and_unknown_paths(proxy):
    async with httpx2.AsyncClient() as client:
        health = (await client.get(proxy + "/healthz")).json()
        assert health["ok"] and health["store"]["healthy"]
        missing = await client.get(proxy + "/nope")
        assert missing.status_code == 404 and "/v1/*" in missing.json()["error"]["message"]
