"""`tracemill store copy SRC DST`: one store into another, SQLite to PostgreSQL or back.

Raw rows (exchanges, MCP messages, tool schemas) go through the destination's sink, so a uid (or
a schema hash) already there is skipped and a rerun copies nothing twice. Derived tables are not
copied: the destination chains its own episodes and links. Curation is: each step is moved to the
destination's episode that holds the same first exchange (by uid), `undo` steps are pointed at the
copied step, and a step already there (same episode, time, action and arguments) is not added again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recorder.ingest import Row
from recorder.store import dbapi
from recorder.store.sink import RowSink

# Raw tables (what the writer records; everything else is derived, or the curation log) in the order
# they are copied, each with a stable order to read it in. Each has a unique key that makes a rerun a
# no-op, and none refers to another by a store-local id. A migration that adds a raw table adds it here.
RAW_TABLES = [
    ("exchanges", "id"),
    ("mcp_messages", "id"),
    ("tools", "hash"),
    ("server_tools", "server, hash"),
    ("exchange_tokens", "exchange_uid, choice"),
]
BATCH = 1000

Progress = Callable[[str, int, int], None]  # (table, rows done, rows in the table)


@dataclass
class CopyReport:
    read: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    curation_read: int = 0
    curation_added: int = 0
    curation_orphans: int = 0  # steps whose episode is not in the destination (nothing to attach them to)


def copy_raw(src: Any, sink: RowSink, progress: Progress | None = None) -> CopyReport:
    """Every raw row of `src` into `sink`, in batches; returns what was read and what was new."""
    report = CopyReport()
    for table, order in RAW_TABLES:
        total = int(src.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        done = added = 0
        batch: list[Row] = []
        for row in dbapi.stream(src, f"SELECT * FROM {table} ORDER BY {order}"):
            batch.append((table, {k: row[k] for k in row.keys() if k != "id"}))  # noqa: SIM118  (a Row is no dict)
            if len(batch) >= BATCH:
                added += sink.write(batch)
                done += len(batch)
                batch = []
                if progress:
                    progress(table, done, total)
        if batch:
            added += sink.write(batch)
            done += len(batch)
        if progress:
            progress(table, done, total)
        report.read[table], report.added[table] = done, added
    return report


def _anchors(db: Any, where: str = "") -> dict[int, str]:
    """episode id -> the uid of its first exchange, which names the episode across stores."""
    sql = (
        "SELECT ee.episode_id, x.uid FROM episode_exchanges ee JOIN exchanges x ON x.id = ee.exchange_id "
        "WHERE ee.exchange_id = (SELECT min(exchange_id) FROM episode_exchanges f WHERE f.episode_id = ee.episode_id)"
        + where
    )
    return {int(r[0]): str(r[1]) for r in db.execute(sql)}


def copy_curation(src: Any, dst: Any, report: CopyReport) -> None:
    """The curation log, moved onto the destination's episodes (which must be chained already)."""
    steps = src.execute("SELECT id, at, episode_id, action, args FROM curation ORDER BY id").fetchall()
    report.curation_read = len(steps)
    if not steps:
        return
    src_anchor = _anchors(src, " AND ee.episode_id IN (SELECT DISTINCT episode_id FROM curation)")
    dst_episode = {uid: episode for episode, uid in _anchors(dst).items()}
    copied: dict[int, int] = {}  # source step id -> destination step id
    with dbapi.transaction(dst):
        for step in steps:
            episode = dst_episode.get(src_anchor.get(int(step["episode_id"]), ""))
            if episode is None:
                report.curation_orphans += 1
                continue
            args = step["args"]
            if step["action"] == "undo":
                parsed = json.loads(args)
                if parsed.get("step") not in copied:
                    report.curation_orphans += 1
                    continue
                args = json.dumps({**parsed, "step": copied[parsed["step"]]})
            same = dst.execute(
                "SELECT id FROM curation WHERE episode_id = ? AND at = ? AND action = ? AND args = ?",
                (episode, step["at"], step["action"], args),
            ).fetchone()
            if same is None:
                same = dst.execute(
                    "INSERT INTO curation (at, episode_id, action, args) VALUES (?, ?, ?, ?) RETURNING id",
                    (step["at"], episode, step["action"], args),
                ).fetchone()
                report.curation_added += 1
            copied[int(step["id"])] = int(same[0])


def copy_store(source: str, destination: str, progress: Progress | None = None) -> CopyReport:
    """Copy the store at `source` into the one at `destination` (created and migrated as needed)."""
    from recorder.store import connect_existing, masked, open_sink
    from recorder.store.reader import TraceReader

    if _same(source, destination):
        raise ValueError(f"{masked(source)} is both the source and the destination")
    src = connect_existing(source)
    try:
        sink = open_sink(destination)
        try:
            report = copy_raw(src, sink, progress)
        finally:
            sink.close()
        dst = connect_existing(destination)
        try:
            TraceReader(src, source).refresh()
            TraceReader(dst, destination).refresh()
            copy_curation(src, dst, report)
        finally:
            dst.close()
    finally:
        src.close()
    return report


def _same(a: str, b: str) -> bool:
    from pathlib import Path

    from recorder.store.location import is_postgres

    if is_postgres(a) or is_postgres(b):
        return a.rstrip("/") == b.rstrip("/")
    return Path(a).resolve() == Path(b).resolve()
