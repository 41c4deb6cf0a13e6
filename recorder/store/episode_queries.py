"""Episodes in SQL: the recorded-fact filters as a WHERE clause, and the rows they select.

Curation-based filters (tags, exclusion, rating) are judged in Python by `Filters.keeps`, on the
replayed log the caller passes in.
"""

from __future__ import annotations

from typing import Any

from recorder.episodes.curation import Curation
from recorder.episodes.filters import Filters
from recorder.store.dbapi import Connection


def where(filters: Filters, before: tuple[float, int] | None = None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("session", filters.session), ("source", filters.source)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if filters.model:
        clauses.append("lower(model) LIKE lower(?)")  # case-blind on both backends
        args.append(f"%{filters.model}%")
    if filters.since:
        clauses.append("started_at >= ?")
        args.append(filters.since)
    if filters.search:
        clauses.append("lower(first_user) LIKE lower(?) ESCAPE '\\'")
        args.append("%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if before is not None:
        clauses.append("(started_at < ? OR (started_at = ? AND id < ?))")
        args += [before[0], before[0], before[1]]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def summaries(
    db: Connection,
    filters: Filters,
    states: dict[int, Curation],
    limit: int = 50,
    before: tuple[float, int] | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `before` is the (started_at, id) of the last row of the previous page (keyset paging)."""
    sql, args = where(filters, before)
    out = []
    rows = db.execute(f"SELECT * FROM episodes{sql} ORDER BY started_at DESC, id DESC", args)
    try:
        for row in rows:
            c = states.get(row["id"], Curation())
            if not filters.keeps(c):
                continue
            out.append(
                {**dict(row), "tags": sorted(c.tags), "excluded": c.excluded, "rating": c.rating, "edits": len(c.edits)}
            )
            if len(out) >= limit:
                break
    finally:
        rows.close()  # an unfinished statement would pin a long-lived connection to this snapshot
    return out


def ids(db: Connection, filters: Filters) -> list[int]:
    """Ids of the episodes the recorded-fact filters select, oldest first."""
    sql, args = where(filters)
    return [int(r[0]) for r in db.execute(f"SELECT id FROM episodes{sql} ORDER BY started_at, id", args)]


def count(db: Connection, filters: Filters) -> int:
    """How many episodes the recorded-fact filters select (curation not applied: a progress total)."""
    sql, args = where(filters)
    return int(db.execute(f"SELECT count(*) FROM episodes{sql}", args).fetchone()[0])


def exists(db: Connection, episode_id: int) -> bool:
    return db.execute("SELECT 1 FROM episodes WHERE id = ?", (episode_id,)).fetchone() is not None
