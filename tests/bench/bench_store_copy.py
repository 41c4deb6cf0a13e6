"""Benchmark: `tracemill store copy` of a synthetic SQLite store into PostgreSQL and back.

    python -m tests.bench.bench_store_copy --db postgresql://postgres@127.0.0.1:5432/postgres [--exchanges 100000]

Builds the store (agent loops, 5 exchanges an episode, every 50th episode tagged), copies it into
a fresh PostgreSQL database and from there into a fresh SQLite file, reruns the first copy (which
must add nothing), and compares the three stores' exports byte for byte. Prints times, rates and
each copy's peak memory; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from recorder import open_reader
from tests.bench.bench_export import synthesize, timed
from tests.support.pg import with_database

TM = [sys.executable, "-m", "proxy"]


def tag_some(db: Path) -> int:
    with open_reader(db) as reader:
        ids = [e["id"] for e in reader.episodes(limit=10**9)]
        for episode in ids[::50]:
            reader.curate(episode, "tag", tags=["keep"])
    return len(ids[::50])


def export_digest(location: str, out: Path) -> tuple[str, int]:
    subprocess.run([*TM, "export", str(out), "--db", location], check=True, capture_output=True)
    data = out.read_bytes()
    return hashlib.sha256(data).hexdigest()[:16], len(data)


def copy(source: str, destination: str) -> tuple[float, float, str]:
    seconds, peak = timed([*TM, "store", "copy", source, destination])
    said = subprocess.run([*TM, "store", "copy", source, destination], capture_output=True, text=True).stdout
    return seconds, peak, said  # the second run says what a rerun adds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--db", required=True, help="a postgresql:// URL of an existing database (a fresh one is made beside it)"
    )
    parser.add_argument("--exchanges", type=int, default=100_000)
    args = parser.parse_args()
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="tracemill-bench-copy-"))
    source, back = folder / "source.db", folder / "back.db"
    name = f"tm_copy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.db, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    middle = with_database(args.db, name)
    try:
        synthesize(source, args.exchanges)
        tagged = tag_some(source)  # also chains the source once, outside the timings
        size = source.stat().st_size / 1e6
        print(f"{args.exchanges} exchanges, {args.exchanges // 5} episodes, {tagged} tagged; source {size:.0f} MB")
        print(f"{'copy':<26}{'seconds':>9}{'exchanges/s':>13}{'peak MiB':>10}   a rerun says")
        for label, src, dst in (
            ("SQLite -> PostgreSQL", str(source), middle),
            ("PostgreSQL -> SQLite", middle, str(back)),
        ):
            seconds, peak, again = copy(src, dst)
            rerun = re.search(r"copied (\d+ of \d+ exchanges)", again)
            said = rerun.group(1) if rerun else again.strip()
            print(f"{label:<26}{seconds:>9.1f}{args.exchanges / seconds:>13.0f}{peak:>10.0f}   {said}")
        digests = {
            label: export_digest(loc, folder / f"{label}.jsonl")
            for label, loc in (("source", str(source)), ("postgres", middle), ("back", str(back)))
        }
        same = len({d for d, _ in digests.values()}) == 1
        print(
            "exports: "
            + ", ".join(f"{k} {d} ({n / 1e6:.1f} MB)" for k, (d, n) in digests.items())
            + f" -> {'identical, byte for byte' if same else 'DIFFERENT'}"
        )
    finally:
        with psycopg.connect(args.db, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
