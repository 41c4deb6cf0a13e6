"""The read API over episodes: refresh the derived tables, list with filters, stream for export."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from recorder.episodes import chain as episodes
from recorder.episodes import curation, links
from recorder.episodes.chain import Episode


@dataclass
class Filters:
    session: str | None = None
    model: str | None = None
    since: float | None = None
    tag: str | None = None
    include_excluded: bool = False
    source: str | None = None


def refresh(db: sqlite3.Connection) -> None:
    """Bring episodes and links up to date with everything recorded so far (incremental)."""
    episodes.update(db)
    links.update(db)


def _where(filters: Filters) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for column, value in (("session", filters.session), ("source", filters.source)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if filters.model:
        clauses.append("model LIKE ?")
        args.append(f"%{filters.model}%")
    if filters.since:
        clauses.append("started_at >= ?")
        args.append(filters.since)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _selected(db: sqlite3.Connection, filters: Filters) -> tuple[dict[int, curation.Curation], set[int] | None]:
    """Curation state, plus the only ids allowed when the filters use it (None: no restriction)."""
    states = curation.state(db)
    if filters.tag:
        return states, {i for i, c in states.items() if filters.tag in c.tags}
    return states, None


def list_episodes(db: sqlite3.Connection, filters: Filters, limit: int = 50) -> list[dict[str, Any]]:
    where, args = _where(filters)
    states, only = _selected(db, filters)
    out = []
    for row in db.execute(f"SELECT * FROM episodes{where} ORDER BY started_at DESC, id DESC", args):
        c = states.get(row["id"], curation.Curation())
        if (only is not None and row["id"] not in only) or (c.excluded and not filters.include_excluded):
            continue
        out.append({**dict(row), "tags": sorted(c.tags), "excluded": c.excluded})
        if len(out) >= limit:
            break
    return out


def iter_episodes(db: sqlite3.Connection, filters: Filters) -> Iterator[tuple[Episode, curation.Curation]]:
    """Every matching episode, oldest first, one at a time: memory stays flat as the store grows."""
    where, args = _where(filters)
    states, only = _selected(db, filters)
    ids = [r[0] for r in db.execute(f"SELECT id FROM episodes{where} ORDER BY started_at, id", args)]
    for episode_id in ids:
        c = states.get(episode_id, curation.Curation())
        if (only is not None and episode_id not in only) or (c.excluded and not filters.include_excluded):
            continue
        episode = episodes.conversation(db, episode_id)
        if episode is not None:
            yield episode, c


def count(db: sqlite3.Connection, filters: Filters) -> int:
    where, args = _where(filters)
    return int(db.execute(f"SELECT count(*) FROM episodes{where}", args).fetchone()[0])
