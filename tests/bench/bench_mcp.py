"""Benchmark, MCP section: sequential tools/call latency, direct versus through each way in.

    python -m tests.bench.bench_mcp [--calls 1000]

Recording is on. The stdio server is a minimal line server (fast, so the relay's cost shows);
the HTTP server is the mcp SDK's streamable HTTP server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.rawclient import RawClient
from tests.support.mcp_harness import ROOT, http_server, py_http_cmd, wait_port
from tests.support.serving import start_serve

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
FAST = [sys.executable, "-m", "tests.support.mcp_servers.rawserver"]


def call(i: int) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": f"m{i}"}},
        }
    ).encode()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def stdio_latencies(cmd: list[str], n: int) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT, limit=1 << 30
    )
    assert proc.stdin and proc.stdout

    async def ask(raw: bytes) -> bytes:
        proc.stdin.write(raw + b"\n")
        await proc.stdin.drain()
        while True:
            line = await proc.stdout.readline()
            if line.startswith(b"{"):
                return line

    await ask(json.dumps(INIT).encode())
    out = []
    for i in range(1, n + 51):
        t0 = asyncio.get_running_loop().time()
        await ask(call(i))
        if i > 50:  # warm-up first
            out.append(asyncio.get_running_loop().time() - t0)
    proc.stdin.close()
    await proc.wait()
    return out


async def http_latencies(url: str, n: int) -> list[float]:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, port = host_port.split(":")
    client = RawClient(host, int(port))
    await client.connect()
    accept = {"accept": "application/json, text/event-stream"}
    await client.post("/" + path, json.dumps(INIT).encode(), accept)
    sid = next(
        (
            line.split(":", 1)[1].strip()
            for line in client.last_headers.split("\r\n")
            if line.lower().startswith("mcp-session-id:")
        ),
        "",
    )
    headers = {**accept, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
    await client.post("/" + path, b'{"jsonrpc":"2.0","method":"notifications/initialized"}', headers)
    out = []
    for i in range(1, n + 51):
        _, total, _ = await client.post("/" + path, call(i), headers)
        if i > 50:
            out.append(total)
    await client.close()
    return out


def row(name: str, base: list[float], via: list[float]) -> str:
    added50, added99 = pct(via, 0.5) - pct(base, 0.5), pct(via, 0.99) - pct(base, 0.99)
    return f"{name:<44}{pct(base, 0.5):>9.3f}ms{pct(via, 0.5):>9.3f}ms{added50:>+10.3f}ms{added99:>+10.3f}ms"


async def main_async(n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tracemill-bench-mcp-"))
    db = tmp / "mcp.db"
    wrap = [sys.executable, "-m", "proxy", "wrap", "--name", "fast", "--db", str(db), "--"]
    print(f"MCP: {n} sequential tools/call (echo) per case, recording to {db}")
    print(f"{'case':<44}{'direct p50':>11}{'via p50':>11}{'added p50':>12}{'added p99':>12}")
    direct_stdio = await stdio_latencies(FAST, n)
    print(row("stdio wrapper (tracemill wrap)", direct_stdio, await stdio_latencies(wrap + FAST, n)))
    async with http_server(py_http_cmd("http"), "/mcp") as sdk_url:
        toml = tmp / "proxy.toml"
        fast_args = ", ".join(json.dumps(a) for a in FAST[1:])
        toml.write_text(
            f'[mcp.servers.sdk]\nurl = "{sdk_url}"\n'
            f"[mcp.servers.fast]\ncommand = {json.dumps(FAST[0])}\nargs = [{fast_args}]\n"
            f"cwd = {json.dumps(str(ROOT))}\n"
        )
        proc, proxy = start_serve(db, "http://127.0.0.1:9/v1", config=toml)  # its own process, as in production
        try:
            direct_http = await http_latencies(sdk_url, n)
            print(
                row(
                    "streamable HTTP relay (/mcp/sdk -> SDK HTTP)",
                    direct_http,
                    await http_latencies(f"{proxy}/mcp/sdk", n),
                )
            )
            print(
                row(
                    "HTTP way in to a stdio server (/mcp/fast)",
                    direct_stdio,
                    await http_latencies(f"{proxy}/mcp/fast", n),
                )
            )
        finally:
            proc.terminate()
            proc.wait()
    print(f"(direct stdio is a minimal line server: p50 {statistics.median(direct_stdio) * 1000:.3f}ms)")


async def big_event_seconds(url: str, megabytes: float, runs: int = 3) -> float:
    """The best of `runs` POSTs answered by one SSE event of `megabytes`, read to its end."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, port = host_port.split(":")
    best = float("inf")
    for i in range(runs):
        client = RawClient(host, int(port))
        await client.connect()
        _, total, body = await client.post("/" + path, call(i), {"accept": "application/json, text/event-stream"})
        await client.close()
        assert len(body) > megabytes * 1_000_000, "the event did not come through whole"
        best = min(best, total)
    return best


async def wrap_big_seconds(url: str, db: Path) -> float:
    """One request through `tracemill wrap --url`: the HTTP upstream's SSE answer parsed on the way out."""
    cmd = [sys.executable, "-m", "proxy", "wrap", "--name", "big", "--db", str(db), "--url", url]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 30
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps(INIT).encode() + b"\n")  # wrap starts and connects before the clock does
    await proc.stdin.drain()
    await proc.stdout.readline()
    t0 = time.perf_counter()
    proc.stdin.write(call(1) + b"\n")
    await proc.stdin.drain()
    await proc.stdout.readline()
    seconds = time.perf_counter() - t0
    proc.stdin.close()
    await proc.wait()
    return seconds


async def big_event_section(tmp: Path, megabytes: float) -> None:
    from tests.support.serving import free_port

    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.big_sse_upstream", str(port), str(megabytes)], cwd=ROOT
    )
    try:
        await wait_port(port, upstream)
        url = f"http://127.0.0.1:{port}/mcp"
        toml = tmp / "big.toml"
        toml.write_text(f'[mcp.servers.big]\nurl = "{url}"\n')
        db = tmp / "big.db"
        proc, proxy = start_serve(db, "http://127.0.0.1:9/v1", config=toml)
        try:
            direct = await big_event_seconds(url, megabytes)
            relayed = await big_event_seconds(f"{proxy}/mcp/big", megabytes)
        finally:
            proc.terminate()
            proc.wait()
        wrapped = await wrap_big_seconds(url, db)
    finally:
        upstream.terminate()
        upstream.wait()
    print(
        f"one {megabytes:g} MB SSE event: direct {direct:.3f}s, through /mcp/big {relayed:.3f}s, "
        f"through wrap --url {wrapped:.3f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--event-mb", type=float, default=50.0, help="size of the one big SSE event (0: skip)")
    args = parser.parse_args()
    asyncio.run(main_async(args.calls))
    if args.event_mb:
        asyncio.run(big_event_section(Path(tempfile.mkdtemp(prefix="tracemill-bench-big-")), args.event_mb))


if __name__ == "__main__":
    main()
