"""Benchmark: the proxy's added latency, CPU and memory, against a direct connection, in one run;
then the MCP section (tests/bench/bench_mcp.py).

    python -m tests.bench.bench_proxy [--requests 2000] [--calls 1000] [--skip-mcp]

Prints numbers; asserts nothing about time. The upstream answers instantly, recording is on.
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


async def main_async(n: int) -> None:
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "tests.bench.instant_upstream", str(up_port)])
    tmp = Path(tempfile.mkdtemp(prefix="tracemill-bench-"))
    await asyncio.sleep(1.0)
    proc, url = start_serve(tmp / "bench.db", f"http://127.0.0.1:{up_port}/v1")
    proxy_port = int(url.rsplit(":", 1)[1])
    print(f"proxy pid {proc.pid}; upstream instant, recording to {tmp / 'bench.db'}; {os.cpu_count()} cores")
    print(
        f"{'case':<28}{'direct p50':>11}{'proxy p50':>11}{'added p50':>11}{'added p99':>11}{'added ttfb':>11}{'cpu/req':>10}{'rps ratio':>10}"
    )
    try:
        for stream in (False, True):
            for concurrency in (1, 32):
                count = n if concurrency == 1 else n * 2
                direct = await run(up_port, stream, count, concurrency)
                cpu0 = cpu_seconds(proc.pid)
                proxied = await run(proxy_port, stream, count, concurrency)
                cpu = (cpu_seconds(proc.pid) - cpu0) / (proxied["n"] + concurrency) * 1000
                name = f"{'stream (20 chunks)' if stream else 'non-streamed'}, {'sequential' if concurrency == 1 else '32 concurrent'}"
                print(
                    f"{name:<28}{direct['p50']:>9.2f}ms{proxied['p50']:>9.2f}ms{proxied['p50'] - direct['p50']:>9.2f}ms"
                    f"{proxied['p99'] - direct['p99']:>9.2f}ms{proxied['ttfb50'] - direct['ttfb50']:>9.2f}ms"
                    f"{cpu:>8.2f}ms{proxied['rps'] / direct['rps']:>10.2f}"
                )
        await asyncio.sleep(0.5)
        print(f"proxy peak RSS {rss_mib(proc.pid):.1f} MiB")
        import sqlite3

        rows = sqlite3.connect(tmp / "bench.db").execute("SELECT count(*) FROM exchanges").fetchone()[0]
        print(f"exchanges recorded: {rows}")
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
    args = parser.parse_args()
    asyncio.run(main_async(args.requests))
    if not args.skip_mcp:
        from tests.bench.bench_mcp import main_async as mcp_main

        print()
        asyncio.run(mcp_main(args.calls))


if __name__ == "__main__":
    main()
