"""Benchmark: the viewer on a big store. Prints server times; asserts nothing.

    python -m tests.bench.bench_viewer [--exchanges 100000] [--turns 500] [--result-kb 100]

The store holds the export benchmark's agent loops (5 exchanges an episode) plus one long
episode: `--turns` assistant turns, each followed by a tool result of `--result-kb` KB. The
viewer runs on a real socket; each figure is the server's own time (the Server-Timing header:
from the request reaching the viewer to the response head, rendering included) and the wall time
the client saw, for the first request and the median of the next five, and the CPU time of the
first (less sensitive than wall time to a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx2

from proxy.config import Config
from proxy.server import running
from proxy.ui import build
from recorder.store import open_reader
from recorder.store.sqlite import connect, insert_rows
from tests.bench.bench_export import TOOLS, synthesize


def long_episode(db: Path, turns: int, result_kb: int) -> None:
    """One exchange whose request holds `turns` tool-calling turns with big results, and its answer."""
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "You are a browsing agent."},
        {"role": "user", "content": "the long one: crawl the docs site and summarise every page"},
    ]
    page = ("<html><body>" + "lorem ipsum dolor sit amet " * 40 + "</body></html>\n") * (result_kb * 1024 // 1100 + 1)
    for t in range(turns - 1):
        call = {
            "id": f"long-{t}",
            "type": "function",
            "function": {"name": "tool_0", "arguments": json.dumps({"p0": f"page {t}"})},
        }
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": f"Next I read page {t}. " * 5,
                "tool_calls": [call],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": page[: result_kb * 1024]})
    answer = {
        "role": "assistant",
        "content": "Here is the summary of every page.",
        "reasoning_content": "I read them all.",
    }
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    insert_rows(
        conn,
        [
            (
                "exchanges",
                {
                    "uid": "bench-long",
                    "started_at": 1.8e9,
                    "session": "long",
                    "method": "POST",
                    "path": "/v1/chat/completions",
                    "status": 200,
                    "model": "qwen",
                    "duration_ms": 900,
                    "ttfb_ms": 120,
                    "request_json": json.dumps({"model": "qwen", "messages": messages, "tools": TOOLS}),
                    "response_json": json.dumps(
                        {"choices": [{"index": 0, "message": answer, "finish_reason": "stop"}]}
                    ),
                    "prompt_tokens": 30000,
                    "completion_tokens": 20,
                    "dialect": "chat_completions",
                    "completion_state": "complete",
                },
            )
        ],
    )
    conn.execute("COMMIT")
    conn.close()


async def measure(
    client: httpx2.AsyncClient, path: str, repeat: int = 5
) -> tuple[float, float, float, float, float, int]:
    """(first server ms, first CPU ms, first wall ms, median server ms, median wall ms, bytes) for GET path."""
    server, wall, cpu, size = [], [], [], 0
    for _ in range(1 + repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        response = await client.get(path)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
        server.append(float(response.headers["server-timing"].split("dur=")[1]))
        size = len(response.content)
    return server[0], cpu[0], wall[0], statistics.median(server[1:]), statistics.median(wall[1:]), size


async def run(db: Path, long_id: int, cursor: str) -> None:
    config = Config()
    config.store.path = str(db)
    async with running(build(config)) as url, httpx2.AsyncClient(base_url=url, timeout=120) as client:
        print(
            f"{'page':<46}{'first: server ms':>17}{'CPU ms':>8}{'wall ms':>9}"
            f"{'then: server ms':>16}{'wall ms':>9}{'KB':>7}"
        )
        for label, path in (
            ("episodes (first page, 50 rows)", "/ui/episodes"),
            ("episodes, text search", "/ui/episodes?q=task+12345"),
            ("episodes, an older page (keyset)", f"/ui/episodes?before={cursor}"),
            ("live rows poll (something changed)", "/ui/episodes/rows?v=0"),
            (f"long episode ({long_id}), cold then cached", f"/ui/episodes/{long_id}"),
            ("long episode: the next 100 messages (scrolled)", f"/ui/episodes/{long_id}/turns?from=400"),
            ("long episode: one folded tool result, opened", f"/ui/episodes/{long_id}/part/3/content"),
            ("long episode: raw tab", f"/ui/episodes/{long_id}/raw"),
            ("exchanges", "/ui/exchanges"),
            ("overview (charts over 30 days)", "/ui/overview?window=365d"),
        ):
            first, first_cpu, first_wall, median, median_wall, size = await measure(client, path)
            print(
                f"{label:<46}{first:>17.1f}{first_cpu:>8.0f}{first_wall:>9.1f}"
                f"{median:>16.1f}{median_wall:>9.1f}{size / 1024:>7.0f}"
            )
        print(
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
            "CPU ms is this process's CPU time, client included)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--result-kb", type=int, default=100)
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp(prefix="tracemill-bench-viewer-")) / "x.db"
    t0 = time.perf_counter()
    synthesize(db, args.exchanges)
    long_episode(db, args.turns, args.result_kb)
    print(
        f"store: {args.exchanges:,} exchanges + a {args.turns}-turn episode with {args.result_kb} KB tool results "
        f"({db.stat().st_size / 2**20:.0f} MiB), written in {time.perf_counter() - t0:.1f}s"
    )
    t0 = time.perf_counter()
    with open_reader(db) as reader:
        reader.refresh()  # the one-time chaining any first read pays (`traces list` as well)
        (long,) = reader.episodes(limit=1)
        page = reader.episodes(limit=50)
    print(f"chained into episodes in {time.perf_counter() - t0:.1f}s (once; later reads are incremental)\n")
    asyncio.run(run(db, long["id"], f"{page[-1]['started_at']!r}:{page[-1]['id']}"))


if __name__ == "__main__":
    main()
