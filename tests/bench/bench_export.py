"""Benchmark: episode building, listing and export at 1k, 10k and 100k synthetic exchanges.

    python -m tests.bench.bench_export [--sizes 1000 10000 100000]

Each size gets a fresh store of agent loops (5 exchanges an episode, history resent each time).
Prints the one-time chaining cost (the first `traces list`), a later `traces list`, export time,
episodes per second and the export process's peak memory, so linear scaling is visible.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from recorder.store.sqlite import connect, insert_rows

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": f"tool_{k}",
            "parameters": {"type": "object", "properties": {f"p{k}": {"type": "string"}}},
        },
    }
    for k in range(8)
]


def synthesize(db: Path, exchanges: int) -> None:
    conn = connect(db)
    conn.execute("BEGIN IMMEDIATE")
    rows = []
    for n in range(exchanges):
        episode, turn = divmod(n, 5)
        messages = [
            {"role": "system", "content": "You are an agent."},
            {"role": "user", "content": f"task {episode} " + "detail " * 40},
        ]
        for t in range(turn):
            call = {
                "id": f"c{episode}-{t}",
                "type": "function",
                "function": {"name": f"tool_{t}", "arguments": json.dumps({f"p{t}": f"v{t}"})},
            }
            messages += [
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "result " * 60},
            ]
        last = turn == 4
        answer = {"role": "assistant", "content": "final answer" if last else "", "reasoning_content": "thinking " * 30}
        if not last:
            answer["tool_calls"] = [
                {
                    "id": f"c{episode}-{turn}",
                    "type": "function",
                    "function": {"name": f"tool_{turn}", "arguments": json.dumps({f"p{turn}": f"v{turn}"})},
                }
            ]
        rows.append(
            (
                "exchanges",
                {
                    "uid": f"bench-{n}",
                    "started_at": 1.7e9 + n,
                    "session": None,
                    "method": "POST",
                    "path": "/v1/chat/completions",
                    "status": 200,
                    "model": "qwen",
                    "duration_ms": 500,
                    "request_json": json.dumps({"model": "qwen", "messages": messages, "tools": TOOLS}),
                    "response_json": json.dumps(
                        {"choices": [{"index": 0, "message": answer, "finish_reason": "stop"}]}
                    ),
                    "prompt_tokens": 100,
                    "completion_tokens": 20,
                    "dialect": "chat_completions",
                    "completion_state": "complete",
                },
            )
        )
        if len(rows) == 5000:
            insert_rows(conn, rows)
            rows = []
    insert_rows(conn, rows)
    conn.execute("COMMIT")
    conn.close()


def timed(cmd: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one CLI run in a child process."""
    probe = (
        "import resource,subprocess,sys,time;t=time.perf_counter();"
        "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL);"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    args = parser.parse_args()
    tm = [sys.executable, "-m", "proxy"]
    print(
        f"{'exchanges':>10}{'episodes':>10}{'chain s':>9}{'list s':>8}{'export s':>10}{'episodes/s':>12}{'peak MiB':>10}"
    )
    for size in args.sizes:
        db = Path(tempfile.mkdtemp(prefix="tracemill-bench-export-")) / "x.db"
        synthesize(db, size)
        build, _ = timed([*tm, "traces", "list", "--db", str(db), "--limit", "20"])  # the first run chains everything
        again, _ = timed([*tm, "traces", "list", "--db", str(db), "--limit", "20"])
        seconds, peak = timed([*tm, "export", str(db.parent / "out.jsonl"), "--db", str(db)])
        episodes = size // 5
        print(
            f"{size:>10}{episodes:>10}{build:>9.1f}{again:>8.2f}{seconds:>10.1f}{episodes / seconds:>12.0f}{peak:>10.0f}"
        )
    print(
        f"(peak MiB is the export process's maximum resident set; this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
