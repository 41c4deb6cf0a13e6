"""`tracemill store prune --before DATE`: delete old recordings with everything derived from them.

An episode goes when its last exchange started before DATE (unless it is tagged and tags are
kept), with its exchanges, tool calls, links and curation. Exchanges that never became part of an
episode (other paths, failed calls) go by their own start time. MCP messages before DATE go unless
a surviving exchange links to them. Tool schemas stay (they are few, and shared).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from recorder.store import dbapi

_BODY_BYTES = (
    "coalesce(length(request_json), 0) + coalesce(length(response_json), 0) "
    "+ coalesce(length(request_raw), 0) + coalesce(length(response_raw), 0)"
)


@dataclass
class PruneReport:
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows
    body_bytes: int = 0  # about this much recorded text and bytes went
    kept_tagged: int = 0  # old episodes kept for their tags


def prune(db: Any, before: float, keep: Iterable[int] = (), dry_run: bool = False) -> PruneReport:
    """Delete what is older than `before` (unix seconds), except the episodes in `keep`.

    The derived tables must be up to date (refresh first), or recent exchanges not yet chained
    would count as episode-less. With `dry_run`, report and roll back.
    """
    report = PruneReport()
    keep = set(keep)
    try:
        with dbapi.transaction(db):
            _mark(db, before, keep, report)
            _delete(db, before, report)
            _drop_marks(db)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


class _DryRun(Exception):
    pass


def _mark(db: Any, before: float, keep: set[int], report: PruneReport) -> None:
    db.execute("CREATE TEMP TABLE prune_episodes (id BIGINT PRIMARY KEY)")
    db.execute("CREATE TEMP TABLE prune_exchanges (id BIGINT PRIMARY KEY)")
    old = [int(r[0]) for r in db.execute("SELECT id FROM episodes WHERE updated_at < ?", (before,))]
    report.kept_tagged = sum(1 for i in old if i in keep)
    _insert_ids(db, "prune_episodes", (i for i in old if i not in keep))
    db.execute(
        "INSERT INTO prune_exchanges SELECT ee.exchange_id FROM episode_exchanges ee "
        "WHERE ee.episode_id IN (SELECT id FROM prune_episodes)"
    )
    db.execute(
        "INSERT INTO prune_exchanges SELECT x.id FROM exchanges x WHERE x.started_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM episode_exchanges ee WHERE ee.exchange_id = x.id)",
        (before,),
    )


def _insert_ids(db: Any, table: str, ids: Iterable[int]) -> None:
    chunk: list[tuple[int]] = []
    for i in ids:
        chunk.append((i,))
        if len(chunk) >= 1000:
            db.executemany(f"INSERT INTO {table} VALUES (?)", chunk)
            chunk = []
    if chunk:
        db.executemany(f"INSERT INTO {table} VALUES (?)", chunk)


def _delete(db: Any, before: float, report: PruneReport) -> None:
    gone = "IN (SELECT id FROM prune_exchanges)"
    report.body_bytes = int(
        db.execute(f"SELECT coalesce(sum({_BODY_BYTES}), 0) FROM exchanges WHERE id {gone}").fetchone()[0]
    )
    for table, where in (
        ("exchange_tokens", f"exchange_uid IN (SELECT uid FROM exchanges WHERE id {gone})"),
        ("links", f"exchange_id {gone}"),
        ("llm_tool_calls", f"exchange_id {gone}"),
        ("episode_exchanges", f"exchange_id {gone}"),
        ("exchanges", f"id {gone}"),
        ("curation", "episode_id IN (SELECT id FROM prune_episodes)"),
        ("episodes", "id IN (SELECT id FROM prune_episodes)"),
    ):
        report.deleted[table] = int(db.execute(f"DELETE FROM {table} WHERE {where}").rowcount)
    linked = "SELECT mcp_uid FROM links"
    mcp = f"at < ? AND uid NOT IN ({linked}) AND (reply_to IS NULL OR reply_to NOT IN ({linked}))"
    report.body_bytes += int(
        db.execute(f"SELECT coalesce(sum(length(body)), 0) FROM mcp_messages WHERE {mcp}", (before,)).fetchone()[0]
    )
    report.deleted["mcp_messages"] = int(db.execute(f"DELETE FROM mcp_messages WHERE {mcp}", (before,)).rowcount)
    # SQLite may hand a deleted top id out again: keep each cursor at or below what remains.
    for name, table in (("episodes", "exchanges"), ("links", "mcp_messages")):
        top = int(db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
        db.execute("UPDATE _cursors SET value = ? WHERE name = ? AND value > ?", (top, name, top))


def _drop_marks(db: Any) -> None:
    db.execute("DROP TABLE prune_episodes")
    db.execute("DROP TABLE prune_exchanges")


def prune_store(location: str, before: float, keep_tagged: bool = False, dry_run: bool = False) -> PruneReport:
    """Refresh the derived tables, then prune (keeping tagged episodes when asked)."""
    from recorder.episodes import curation
    from recorder.store import connect_existing, curation_log
    from recorder.store.reader import TraceReader

    db = connect_existing(location)
    try:
        TraceReader(db, location).refresh()
        states = curation.states(curation_log.steps(db))
        keep = {i for i, c in states.items() if c.tags} if keep_tagged else set()
        return prune(db, before, keep, dry_run)
    finally:
        db.close()
