"""Benchmark: the proxy's added latency, CPU and memory, against a direct connection, in one run;
then the MCP section (tests/bench/bench_mcp.py).

    python -m tests.bench.bench_proxy [--requests 2000] [--calls 1000] [--skip-mcp] [--db LOCATION]

Prints numbers; asserts nothing about time. The upstream answers instantly, recording is on, into
a fresh SQLite file or, with `--db postgresql://…`, into that database (run it once each way to
compare the stores; with a local server, the server's own CPU per request is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.rawclient import RawClient
from tests.support.serving import free_port, start_serve

TICKS = os.sysconf("SC_CLK_TCK")
BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello " * 50}], "temperature": 0.7})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int, key: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def run(port: int, stream: bool, n: int, concurrency: int) -> dict[str, float]:
    body = (BODY[:-1] + ', "stream": true}').encode() if stream else BODY.encode()
    clients = [RawClient("127.0.0.1", port) for _ in range(concurrency)]
    for c in clients:
        await c.connect()
    totals: list[float] = []
    ttfbs: list[float] = []

    async def worker(client: RawClient, count: int) -> None:
        for _ in range(count):
            ttfb, total, _ = await client.post("/v1/chat/completions", body)
            ttfbs.append(ttfb)
            totals.append(total)

    for c in clients:  # warm up connections and code paths
        await c.post("/v1/chat/completions", body)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c, n // concurrency) for c in clients))
    elapsed = time.perf_counter() - t0
    for c in clients:
        await c.close()
    return {
        "p50": pct(totals, 0.5),
        "p99": pct(totals, 0.99),
        "ttfb50": pct(ttfbs, 0.5),
        "rps": len(totals) / elapsed,
        "n": len(totals),
    }


def server_cpu_seconds() -> float:
    """CPU of every local PostgreSQL process (the server's share of recording); 0 without one."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


async def main_async(n: int, location: str | None = None) -> None:
    from tests.support.stores import TestStore

    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "tests.bench.instant_upstream", str(up_port)])
    tmp = Path(tempfile.mkdtemp(prefix="tracemill-bench-"))
    store = TestStore(location or str(tmp / "bench.db"), "postgres" if location else "sqlite", tmp)
    await asyncio.sleep(1.0)
    proc, url = start_serve(store, f"http://127.0.0.1:{up_port}/v1")
    proxy_port = int(url.rsplit(":", 1)[1])
    print(f"proxy pid {proc.pid}; upstream instant, recording to {store.kind} {store}; {os.cpu_count()} cores")
    server = " server/req" if store.is_postgres else ""
    print(
        f"{'case':<28}{'direct p50':>11}{'proxy p50':>11}{'added p50':>11}{'added p99':>11}{'added ttfb':>11}"
        f"{'cpu/req':>10}{'rps ratio':>10}{server}"
    )
    try:
        for stream in (False, True):
            for concurrency in (1, 32):
                count = n if concurrency == 1 else n * 2
                direct = await run(up_port, stream, count, concurrency)
                cpu0, server0 = cpu_seconds(proc.pid), server_cpu_seconds()
                proxied = await run(proxy_port, stream, count, concurrency)
                await asyncio.sleep(0.3)  # the last batches reach the store
                cpu = (cpu_seconds(proc.pid) - cpu0) / (proxied["n"] + concurrency) * 1000
                served = (server_cpu_seconds() - server0) / (proxied["n"] + concurrency) * 1000
                name = f"{'stream (20 chunks)' if stream else 'non-streamed'}, {'sequential' if concurrency == 1 else '32 concurrent'}"
                print(
                    f"{name:<28}{direct['p50']:>9.2f}ms{proxied['p50']:>9.2f}ms{proxied['p50'] - direct['p50']:>9.2f}ms"
                    f"{proxied['p99'] - direct['p99']:>9.2f}ms{proxied['ttfb50'] - direct['ttfb50']:>9.2f}ms"
                    f"{cpu:>8.2f}ms{proxied['rps'] / direct['rps']:>10.2f}"
                    + (f"{served:>9.2f}ms" if store.is_postgres else "")
                )
        await asyncio.sleep(0.5)
        print(f"proxy peak RSS {rss_mib(proc.pid):.1f} MiB")
        print(f"exchanges recorded: {store.count()}")
    finally:
        proc.terminate()
        upstream.terminate()
        proc.wait()
        upstream.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=1000, help="MCP tools/call per case")
    parser.add_argument("--skip-mcp", action="store_true")
    parser.add_argument("--db", help="record into this store (a postgresql:// URL) instead of a fresh SQLite file")
    args = parser.parse_args()
    asyncio.run(main_async(args.requests, args.db))
    if not args.skip_mcp:
        from tests.bench.bench_mcp import main_async as mcp_main

        print()
        asyncio.run(mcp_main(args.calls))


if __name__ == "__main__":
    main()
