"""Upstream down, upstream slow, client gone mid-stream, and a broken stream: each recorded."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx2
import pytest
from openai import APIStatusError, AsyncOpenAI

from proxy.server import running
from tests.support.serving import proxy_for
from tests.support.store_rows import Canned, wait_rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_upstream_down_gives_502_naming_the_url(db):
    dead = f"http://127.0.0.1:{free_port()}"
    async with proxy_for(dead, db) as (proxy, _):
        client = AsyncOpenAI(base_url=proxy + "/v1", api_key="sk-x", max_retries=0)
        with pytest.raises(APIStatusError) as info:
            await client.chat.completions.create(model="q", messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 502
        assert dead + "/v1/chat/completions" in info.value.message and "base_url" in info.value.message
        (row,) = await wait_rows(db, 1)
    assert row["status"] == 502 and "could not reach" in row["error"]


async def test_slow_upstream_gives_504(db):
    slow = Canned([b"data: late\n\n"])

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await asyncio.sleep(2)
        await slow(scope, receive, send)

    async with running(app) as up, proxy_for(up, db, timeout=0.3) as (proxy, _):
        response = await httpx2.AsyncClient().post(proxy + "/v1/chat/completions", content=b"{}")
        assert response.status_code == 504
        assert "did not answer in time" in response.json()["error"]["message"]
        (row,) = await wait_rows(db, 1)
    assert row["status"] == 504 and "timeout" in row["error"].lower()


async def test_client_disconnect_mid_stream_cancels_upstream_and_records_partial(db):
    pieces = [f'data: {{"choices":[{{"index":0,"delta":{{"content":"w{i} "}}}}]}}\n\n'.encode() for i in range(200)]
    upstream = Canned(pieces, delay=0.02)
    async with running(upstream) as up, proxy_for(up, db) as (proxy, _):
        async with (
            httpx2.AsyncClient() as client,
            client.stream("POST", proxy + "/v1/chat/completions", json={"stream": True}) as response,
        ):
            seen = 0
            async for _ in response.aiter_raw():
                seen += 1
                if seen == 3:
                    break
        await asyncio.wait_for(upstream.disconnected.wait(), 3)
        (row,) = await wait_rows(db, 1)
    assert row["incomplete"] == 1 and "client disconnected" in row["error"]
    content = json.loads(row["response_json"])["choices"][0]["message"]["content"]
    assert content.startswith("w0 w1 ") and len(content.split()) < 200


async def test_error_event_after_200_is_recorded_as_error(db):
    upstream = Canned(
        [
            b'data: {"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n',
            b'data: {"error": {"message": "engine overloaded"}}\n\n',
        ]
    )
    async with running(upstream) as up, proxy_for(up, db) as (proxy, _):
        response = await httpx2.AsyncClient().post(proxy + "/v1/chat/completions", json={"stream": True})
        assert b"engine overloaded" in response.content
        (row,) = await wait_rows(db, 1)
    assert row["status"] == 200 and "engine overloaded" in row["error"]


async def test_upstream_dying_mid_stream_cuts_the_client_and_records_it(db):
    async def dies(scope, receive, send):
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b'data: {"choices":[]}\n\n', "more_body": True})
        raise RuntimeError("engine crashed")

    async with running(dies) as up, proxy_for(up, db) as (proxy, _):
        with pytest.raises(httpx2.RemoteProtocolError):
            await httpx2.AsyncClient().post(proxy + "/v1/chat/completions", json={"stream": True})
        (row,) = await wait_rows(db, 1)
    assert row["incomplete"] == 1 and "mid-response" in row["error"]
