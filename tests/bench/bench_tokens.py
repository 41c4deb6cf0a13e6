"""Benchmark: what token capture costs. Two `tracemill serve` processes, capture off and on, in
front of an instant vLLM-like upstream; then the relay's rewriting alone, per chunk and per body.

    python -m tests.bench.bench_tokens [--requests 1000]

Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recorder.dialects import token_ids
from tests.bench.bench_proxy import cpu_seconds, run
from tests.bench.token_upstream import stream, whole
from tests.support.serving import free_port, start_serve

STREAM_CHUNKS = 21  # what a client gets: role, 18 text and finish chunks, [DONE]


def micro(n: int = 20000) -> None:
    """The rewriting alone, in this process: per upstream chunk and per whole body."""
    ids = ("return_token_ids",)
    chunks = stream(True)
    t0 = time.perf_counter()
    for _ in range(n // len(chunks)):
        stripper = token_ids.StreamStripper(token_ids.CHAT, ids)
        for chunk in chunks:
            stripper.feed(chunk)
    per_chunk = (time.perf_counter() - t0) / (n // len(chunks) * len(chunks)) * 1e6
    body = whole(True)
    t0 = time.perf_counter()
    for _ in range(n // 10):
        token_ids.strip_body(body, token_ids.CHAT, ids)
    per_body = (time.perf_counter() - t0) / (n // 10) * 1e6
    passthrough = [c.replace(b'"token_ids":null', b"") for c in stream(False)]
    t0 = time.perf_counter()
    for _ in range(n // len(passthrough)):
        stripper = token_ids.StreamStripper(token_ids.CHAT, ids)
        for chunk in passthrough:
            stripper.feed(chunk)
    per_plain = (time.perf_counter() - t0) / (n // len(passthrough) * len(passthrough)) * 1e6
    print(
        f"relay rewriting alone: {per_chunk:.1f} µs per stream chunk with ids, {per_plain:.1f} µs per chunk without, "
        f"{per_body:.1f} µs per whole body (500 prompt + 21 completion ids)"
    )


async def main_async(n: int) -> None:
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "tests.bench.token_upstream", str(up_port)])
    tmp = Path(tempfile.mkdtemp(prefix="tracemill-bench-tokens-"))
    config = tmp / "capture.toml"
    config.write_text("[llm]\ncapture_tokens = true\n")
    await asyncio.sleep(1.0)
    off, off_url = start_serve(tmp / "off.db", f"http://127.0.0.1:{up_port}/v1")
    on, on_url = start_serve(tmp / "on.db", f"http://127.0.0.1:{up_port}/v1", config=config)
    print("token capture, off and on; instant vLLM-like upstream; recording on; sequential requests")
    print(
        f"{'case':<22}{'p50 off':>10}{'p50 on':>10}{'added p50':>11}"
        f"{'cpu/req off':>13}{'cpu/req on':>12}{'added cpu':>11}{'per chunk':>11}"
    )
    try:
        for streamed in (False, True):
            result = {}
            for name, proc, url in (("off", off, off_url), ("on", on, on_url)):
                port = int(url.rsplit(":", 1)[1])
                cpu0 = cpu_seconds(proc.pid)
                timing = await run(port, streamed, n, 1)
                result[name] = (timing, (cpu_seconds(proc.pid) - cpu0) / (timing["n"] + 1) * 1000)
            (t_off, c_off), (t_on, c_on) = result["off"], result["on"]
            per_chunk = f"{(c_on - c_off) / STREAM_CHUNKS * 1000:>8.1f}µs" if streamed else f"{'':>11}"
            name = "20-chunk stream" if streamed else "non-streamed"
            print(
                f"{name:<22}{t_off['p50']:>8.2f}ms{t_on['p50']:>8.2f}ms{t_on['p50'] - t_off['p50']:>9.2f}ms"
                f"{c_off:>11.2f}ms{c_on:>10.2f}ms{c_on - c_off:>9.2f}ms{per_chunk}"
            )
        await asyncio.sleep(0.5)
        import sqlite3

        captured = (
            sqlite3.connect(tmp / "on.db")
            .execute("SELECT count(*) FROM exchange_tokens WHERE status = 'captured'")
            .fetchone()[0]
        )
        print(f"exchanges with captured ids: {captured}")
    finally:
        for proc in (off, on, upstream):
            proc.terminate()
            proc.wait()
    micro()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main_async(args.requests))


if __name__ == "__main__":
    main()
