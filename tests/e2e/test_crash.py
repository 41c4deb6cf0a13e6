"""SIGKILL with 50 streams in flight leaves a consistent store with every finished exchange (each backend)."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx2
import pytest

from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from tests.support.serving import start_serve
from tests.support.store_rows import Canned

pytestmark = pytest.mark.slow  # real processes, models or many subprocesses: `-m "not slow"` skips them


async def test_sigkill_mid_flight_keeps_the_store_consistent(db):
    slow = Canned([b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'] * 400, delay=0.05)
    fast = ScriptedUpstream()

    async def upstream(scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/slow/chat/completions"):
            await slow(scope, receive, send)
        else:
            await fast(scope, receive, send)

    async with running(upstream) as up:
        proc, proxy = start_serve(db, up + "/v1")
        try:
            async with httpx2.AsyncClient(timeout=30) as client:
                body = {"model": "q", "messages": [{"role": "user", "content": "hi"}]}
                for i in range(20):
                    r = await client.post(proxy + "/v1/chat/completions", json={**body, "stream": i % 2 == 0})
                    assert r.status_code == 200
                await asyncio.sleep(1.2)  # everything above finished more than a second ago

                started = asyncio.Event()
                opened = 0

                async def stream_one():
                    nonlocal opened
                    async with client.stream("POST", proxy + "/v1/slow/chat/completions", json={"stream": True}) as r:
                        async for _ in r.aiter_raw():
                            opened += 1
                            if opened >= 50:
                                started.set()
                            await asyncio.sleep(10)

                tasks = [asyncio.create_task(stream_one()) for _ in range(50)]
                await asyncio.wait_for(started.wait(), 20)
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if proc.poll() is None:
                proc.kill()
    if not db.is_postgres:
        assert db.rows("PRAGMA integrity_check")[0][0] == "ok"
    finished = db.rows("SELECT response_json FROM exchanges WHERE path = '/v1/chat/completions'")
    assert len(finished) == 20
    assert all(json.loads(r[0])["choices"][0]["message"]["content"] for r in finished)
