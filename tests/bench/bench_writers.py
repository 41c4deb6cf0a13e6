"""Benchmark: total exchanges per second with 1, 2 and 4 `tracemill serve` processes on one store.

    python -m tests.bench.bench_writers --db postgresql://postgres@127.0.0.1:5432/postgres [--requests 4000]
    python -m tests.bench.bench_writers                 # the same on one SQLite file, for comparison

Each proxy has its own instant upstream and 32 keep-alive clients sending non-streamed chat
requests; the total is split evenly across the proxies. The clock stops when the last exchange is
in the store, so the figure is recorded exchanges per second, not just relayed ones. For
PostgreSQL, each run gets a fresh database (created next to the one named, then dropped).
Prints numbers; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.bench.bench_proxy import BODY
from tests.bench.rawclient import RawClient
from tests.support.pg import with_database
from tests.support.serving import free_port, start_serve
from tests.support.stores import TestStore

CONCURRENCY = 32


async def drive(port: int, count: int) -> None:
    clients = [RawClient("127.0.0.1", port) for _ in range(CONCURRENCY)]
    for c in clients:
        await c.connect()

    async def worker(client: RawClient, n: int) -> None:
        for _ in range(n):
            await client.post("/v1/chat/completions", BODY.encode())

    await asyncio.gather(*(worker(c, count // CONCURRENCY) for c in clients))
    for c in clients:
        await c.close()


def fresh_store(location: str | None, folder: Path) -> tuple[TestStore, str | None]:
    if location is None:
        return TestStore(str(folder / "writers.db"), "sqlite", folder), None
    import psycopg

    name = f"tm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(location, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return TestStore(with_database(location, name), "postgres", folder), name


def drop(location: str, name: str) -> None:
    import psycopg

    with psycopg.connect(location, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def one_run(processes: int, total: int, location: str | None) -> tuple[float, float, int]:
    folder = Path(tempfile.mkdtemp(prefix="tracemill-bench-writers-"))
    os.environ["XDG_STATE_HOME"] = str(folder / "state")
    store, created = fresh_store(location, folder)
    ports = [free_port() for _ in range(processes)]
    upstreams = [subprocess.Popen([sys.executable, "-m", "tests.bench.instant_upstream", str(p)]) for p in ports]
    await asyncio.sleep(1.0)
    serves = [start_serve(store, f"http://127.0.0.1:{p}/v1") for p in ports]
    try:
        per = total // processes // CONCURRENCY * CONCURRENCY
        proxies = [int(url.rsplit(":", 1)[1]) for _, url in serves]
        for port in proxies:  # warm up code paths and the connections to the store
            await drive(port, CONCURRENCY)
        warm = store.count()
        t0 = time.perf_counter()
        await asyncio.gather(*(drive(port, per) for port in proxies))
        relayed = time.perf_counter() - t0
        want = warm + per * processes
        while store.count() < want and time.perf_counter() - t0 < 300:
            await asyncio.sleep(0.05)
        recorded = time.perf_counter() - t0
        spilled = sum(1 for _ in (folder / "state").rglob("*.spill.jsonl")) + sum(
            1 for _ in folder.glob("*.spill.jsonl")
        )
        return per * processes / relayed, per * processes / recorded, spilled
    finally:
        for proc, _ in serves:
            proc.terminate()
        for proc in upstreams:
            proc.terminate()
        for proc, _ in serves:
            proc.wait()
        for proc in upstreams:
            proc.wait()
        if created and location:
            drop(location, created)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="a postgresql:// URL of an existing database (runs get fresh ones beside it)")
    parser.add_argument("--requests", type=int, default=4000, help="total per run, split across the proxies")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    kind = "PostgreSQL" if args.db else "SQLite (one file)"
    print(f"{kind}; {os.cpu_count()} cores; {CONCURRENCY} clients per proxy; instant upstreams; non-streamed chat")
    print(f"{'proxies':>8}{'relayed/s':>12}{'recorded/s':>12}{'spill files':>13}")
    for n in args.processes:
        relayed, recorded, spilled = asyncio.run(one_run(n, args.requests, args.db))
        print(f"{n:>8}{relayed:>12.0f}{recorded:>12.0f}{spilled:>13}")


if __name__ == "__main__":
    main()
