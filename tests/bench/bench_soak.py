"""Soak benchmark: `tracemill serve` under mixed LLM and MCP load with session churn, for minutes,
printing its RSS, open fds, child processes and latency percentiles at intervals. They should stay
flat: nothing grows with time but the database.

    python -m tests.bench.bench_soak [--minutes 10] [--every 30] [--sessions-per-second 2]

LLM: chat completions (tools, streamed and not) to the scripted vLLM-like upstream. MCP: a stdio
server behind /mcp/line with churn: sessions that initialize, call tools, then DELETE (70 %) or
are abandoned (30 %, reaped by the idle sweep), and stateless calls on shared /s/<key> channels
whose keys change every minute. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from tests.support.mcp_harness import ROOT, wait_port
from tests.support.procs import descendants
from tests.support.serving import free_port, start_serve

IDLE_SECONDS = 10  # abandoned sessions and old shared channels are reaped after this
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}},
}


def call(mid: int, text: str) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": mid,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": text}},
    }


class Tally:
    """Per-interval latencies and counts, by kind."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {"llm": [], "mcp": []}
        self.count = {"sessions": 0, "deleted": 0, "abandoned": 0, "refused": 0, "errors": 0}

    def take(self) -> tuple[dict[str, list[float]], dict[str, int]]:
        ms, count = self.ms, self.count
        self.__init__()  # type: ignore[misc]
        return ms, count


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def proc_stats(pid: int) -> tuple[float, int, int]:
    """(RSS MiB, open fds, live descendants) of the serve process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd")), len(descendants(pid))


async def timed(tally: Tally, kind: str, request) -> httpx2.Response | None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        response = await request
    except httpx2.HTTPError:
        tally.count["errors"] += 1
        return None
    tally.ms[kind].append((time.perf_counter() - started) * 1000)
    if response.status_code == 503:
        tally.count["refused"] += 1
    elif response.status_code >= 400:
        tally.count["errors"] += 1
    return response


async def llm_worker(http: httpx2.AsyncClient, url: str, tally: Tally, until: float, n: int) -> None:
    i = 0
    while time.monotonic() < until:
        i += 1
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": f"weather in city {n}-{i}?"}],
            "tools": TOOLS,
            "stream": i % 2 == 0,
        }
        await timed(
            tally,
            "llm",
            http.post(url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-soak"}),
        )
        await asyncio.sleep(0.05)


async def churn_worker(http: httpx2.AsyncClient, url: str, tally: Tally, until: float, per_second: float) -> None:
    rng = random.Random(1)
    while time.monotonic() < until:
        started = time.monotonic()
        answer = await timed(tally, "mcp", http.post(url + "/mcp/line", json=INIT, headers=ACCEPT))
        sid = answer.headers.get("mcp-session-id") if answer is not None else None
        if sid:
            tally.count["sessions"] += 1
            headers = {**ACCEPT, "mcp-session-id": sid}
            await http.post(
                url + "/mcp/line", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
            )
            for mid in range(1, 4):
                await timed(tally, "mcp", http.post(url + "/mcp/line", json=call(mid, "x" * 200), headers=headers))
            if rng.random() < 0.7:
                await http.delete(url + "/mcp/line", headers=headers)
                tally.count["deleted"] += 1
            else:
                tally.count["abandoned"] += 1  # no DELETE: the idle sweep must close it
        await asyncio.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))


async def shared_worker(http: httpx2.AsyncClient, url: str, tally: Tally, until: float) -> None:
    i = 0
    while time.monotonic() < until:
        i += 1
        key = f"k{int(time.time() // 60)}-{i % 4}"  # four keys at a time, new ones every minute
        await timed(tally, "mcp", http.post(f"{url}/s/{key}/mcp/line", json=call(i, "shared"), headers=ACCEPT))
        await asyncio.sleep(0.05)


COLUMNS = ["t", "RSS MiB", "fds", "kids", "llm n", "llm p50", "llm p99", "mcp n", "mcp p50", "mcp p99"]
COLUMNS += ["sess", "del", "aband", "503", "err", "db MiB"]


async def report(pid: int, tally: Tally, until: float, every: float, db: Path) -> None:
    started = time.monotonic()
    print(" ".join(f"{c:>8}" for c in COLUMNS), flush=True)
    while time.monotonic() < until:
        await asyncio.sleep(min(every, max(0.1, until - time.monotonic())))
        ms, count = tally.take()
        rss, fds, kids = proc_stats(pid)
        size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20
        values = [f"{time.monotonic() - started:.0f}", f"{rss:.1f}", fds, kids]
        for kind in ("llm", "mcp"):
            values += [len(ms[kind]), f"{pct(ms[kind], 0.5):.2f}", f"{pct(ms[kind], 0.99):.2f}"]
        values += [count[k] for k in ("sessions", "deleted", "abandoned", "refused", "errors")] + [f"{size:.1f}"]
        print(" ".join(f"{v:>8}" for v in values), flush=True)


async def main_async(minutes: float, every: float, per_second: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tracemill-soak-"))
    db = tmp / "soak.db"
    up_port = free_port()
    script = (
        "import sys, uvicorn; from proxy.fakes.scripted import ScriptedUpstream; "
        "uvicorn.run(ScriptedUpstream(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')"
    )
    upstream = subprocess.Popen([sys.executable, "-c", script, str(up_port)], cwd=ROOT, process_group=0)
    toml = tmp / "proxy.toml"
    line = [sys.executable, "-m", "tests.support.mcp_servers.lineserver"]
    toml.write_text(
        f"[mcp.servers.line]\ncommand = {json.dumps(line[0])}\nargs = {json.dumps(line[1:])}\n"
        f"cwd = {json.dumps(str(ROOT))}\n"
        f"idle_seconds = {IDLE_SECONDS}\n"
    )
    try:
        await wait_port(up_port, upstream)
        proc, url = start_serve(db, f"http://127.0.0.1:{up_port}/v1", config=toml)
        try:
            print(
                f"soak: {minutes:g} min against tracemill serve (pid {proc.pid}); LLM: scripted upstream; "
                f"MCP: lineserver, {per_second:g} new sessions/s (30 % abandoned, idle_seconds {IDLE_SECONDS}), "
                f"shared channels; store {db}"
            )
            until = time.monotonic() + minutes * 60
            tally = Tally()
            async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=32)) as http:
                await asyncio.gather(
                    report(proc.pid, tally, until, every, db),
                    *(llm_worker(http, url, tally, until, n) for n in range(2)),
                    churn_worker(http, url, tally, until, per_second),
                    shared_worker(http, url, tally, until),
                )
            await asyncio.sleep(IDLE_SECONDS * 1.5)  # the sweep closes what the load left behind
            rss, fds, kids = proc_stats(proc.pid)
            print(f"after the load and one idle period: RSS {rss:.1f} MiB, {fds} fds, {kids} children")
        finally:
            proc.terminate()
            proc.wait(30)
    finally:
        upstream.terminate()
        upstream.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between printed rows")
    parser.add_argument("--sessions-per-second", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(main_async(args.minutes, args.every, args.sessions_per_second))


if __name__ == "__main__":
    main()
