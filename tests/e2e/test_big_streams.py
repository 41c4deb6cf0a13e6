"""Streams far past the usual size, through a real `tracemill serve`: recorded promptly, bounded."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import httpx2
import pytest

from proxy.server import running
from recorder.store.spill import recover, spill_path
from tests.support.serving import start_serve
from tests.support.store_rows import rows


class ChunkedChat:
    """A chat-completions upstream that streams `count` chunks of the same delta text, then [DONE]."""

    def __init__(self, count: int, text: str) -> None:
        self.count = count
        self.piece = b'data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n' % text.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for i in range(self.count):
            await send({"type": "http.response.body", "body": self.piece, "more_body": True})
            if i % 1000 == 0:
                await asyncio.sleep(0)  # let the proxy's reads interleave, as a real server's would
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


async def wait_for_row(db, timeout: float) -> tuple[list, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(db) if db.exists() else []
        if found:
            return found, time.monotonic()
        await asyncio.sleep(0.05)
    return [], time.monotonic()


async def test_a_100k_chunk_stream_is_recorded_shortly_after_it_ends(tmp_path):
    db = tmp_path / "big.db"
    async with running(ChunkedChat(100_000, "t ")) as up:
        proc, proxy = start_serve(db, up + "/v1")
        try:
            async with httpx2.AsyncClient(timeout=120) as client:
                response = await client.post(proxy + "/v1/chat/completions", json={"model": "m", "stream": True})
            ended = time.monotonic()
            assert response.content.count(b"data: ") == 100_001
            found, at = await wait_for_row(db, 60)  # generous under load; the old parser needed minutes
        finally:
            proc.terminate()
            proc.wait(15)
    (row,) = found
    content = json.loads(row["response_json"])["choices"][0]["message"]["content"]
    assert content == "t " * 100_000
    print(f"recorded {at - ended:.2f} s after the stream ended")


@pytest.mark.slow
async def test_a_200_mb_stream_is_recorded_cut_and_flagged_and_sigterm_ends_within_the_drain_bound(tmp_path):
    db = tmp_path / "huge.db"
    config = tmp_path / "proxy.toml"
    config.write_text("[store]\ndrain_seconds = 2.0\n")
    upstream = ChunkedChat(3_200, "x" * 65_000)  # 3,200 events of 64 KiB: 208 MB
    async with running(upstream) as up:
        proc, proxy = start_serve(db, up + "/v1", config=config)
        try:
            received = 0
            async with (
                httpx2.AsyncClient(timeout=300) as client,
                client.stream("POST", proxy + "/v1/chat/completions", json={"model": "m", "stream": True}) as r,
            ):
                async for chunk in r.aiter_raw():
                    received += len(chunk)
            assert received > 200_000_000
            proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            proc.wait(30)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
    log = Path(proc.log_path).read_text()  # type: ignore[attr-defined]
    print(f"SIGTERM to exit: {took:.2f} s; spilled: {spill_path(db).exists()}")
    # drain_seconds, plus writing what is left to the spill file (about a second per 100 MB on a
    # loaded machine), not the writer's pace (the old quadratic parser: many minutes)
    assert took < 2.0 + 10, (took, log[-2000:])
    assert "Traceback" not in log
    if spill_path(db).exists():
        assert "drain_seconds" in log
        recover(db)
    (row,) = rows(db)
    assert row["body_truncated"] == 1 and "max_body_bytes" in row["note"]
    content = json.loads(row["response_json"])["choices"][0]["message"]["content"]
    assert 60_000_000 < len(content) <= 64 * 1024 * 1024 and set(content) == {"x"}
