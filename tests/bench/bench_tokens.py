"""Benchmark: what token capture costs. Two `tracemill serve` processes, capture off and on, in
front of an instant vLLM-like upstream; then the relay's rewriting alone, per chunk and per body.

    python -m tests.bench.bench_tokens [--requests 1000]

Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recorder.dialects import token_ids
from tests.bench.bench_proxy import cpu_seconds, run
from tests.bench.token_upstream import stream, whole
from tests.support.serving import free_port, start_serve

STREAM_CHUNKS = 21  # what the upstream sends with ids: role, 2 id-only, 16 text, finish, [DONE]
ROUNDS = 3


def _per_chunk(chunks: list[bytes], injected: tuple[str, ...], n: int) -> float:
    """Microseconds the relay's rewriting takes per upstream chunk."""
    rounds = max(1, n // len(chunks))
    t0 = time.perf_counter()
    for _ in range(rounds):
        stripper = token_ids.StreamStripper(token_ids.CHAT, injected)
        for chunk in chunks:
            stripper.feed(chunk)
    return (time.perf_counter() - t0) / (rounds * len(chunks)) * 1e6


def micro(n: int = 40000) -> None:
    """The rewriting alone, in this process: per upstream chunk and per whole body."""
    ids, both = ("return_token_ids",), ("return_token_ids", "logprobs")
    chunks = stream(True)
    text = [c for c in chunks if b'"content":"word "' in c]
    body = whole(True)
    t0 = time.perf_counter()
    for _ in range(n // 10):
        token_ids.strip_body(body, token_ids.CHAT, ids)
    per_body = (time.perf_counter() - t0) / (n // 10) * 1e6
    first, average, one = _per_chunk(chunks[:1], ids, n // 10), _per_chunk(chunks, ids, n), _per_chunk(text, ids, n)
    print(
        f"relay rewriting alone, return_token_ids: {average:.1f} µs per chunk on average ({first:.1f} µs the first, "
        f"with 500 prompt ids; {one:.1f} µs a text chunk); {per_body:.1f} µs per whole body"
    )
    average, one = _per_chunk(chunks, both, n), _per_chunk(text, both, n)
    print(
        f"relay rewriting alone, with logprobs too (parsed and re-serialised): {average:.1f} µs per chunk "
        f"on average, {one:.1f} µs a text chunk"
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
    print(
        f"token capture off and on; instant vLLM-like upstream; recording; {n} sequential requests x {ROUNDS}, medians"
    )
    print(
        f"{'case':<22}{'p50 off':>10}{'p50 on':>10}{'added p50':>11}"
        f"{'cpu/req off':>13}{'cpu/req on':>12}{'added cpu':>11}{'per chunk':>11}"
    )
    try:
        for streamed in (False, True):
            result: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
            for _ in range(ROUNDS):  # alternate, so drift in the machine's load hits both sides
                for name, proc, url in (("off", off, off_url), ("on", on, on_url)):
                    port = int(url.rsplit(":", 1)[1])
                    cpu0 = cpu_seconds(proc.pid)
                    timing = await run(port, streamed, n, 1)
                    result[name].append((timing["p50"], (cpu_seconds(proc.pid) - cpu0) / (timing["n"] + 1) * 1000))
            (p_off, c_off), (p_on, c_on) = (
                tuple(statistics.median(v) for v in zip(*result[k], strict=True)) for k in ("off", "on")
            )
            per_chunk = f"{(c_on - c_off) / STREAM_CHUNKS * 1000:>8.1f}µs" if streamed else f"{'':>11}"
            name = "20-chunk stream" if streamed else "non-streamed"
            print(
                f"{name:<22}{p_off:>8.2f}ms{p_on:>8.2f}ms{p_on - p_off:>9.2f}ms"
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
