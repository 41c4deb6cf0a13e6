"""The read API over episodes: refresh the derived tables, list with filters, stream for export."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from recorder.episodes import chain as episodes
from recorder.episodes import curation, links
from recorder.episodes.chain import Episode

RATING_CHOICES = ("good", "bad", "rated", "unrated")


@dataclass
class Filters:
    session: str | None = None
    model: str | None = None
    since: float | None = None
    tag: str | None = None
    include_excluded: bool = False
    source: str | None = None
    rating: str | None = None  # good, bad, rated, unrated, or a number (that exact reward)
    min_rating: float | None = None  # reward at least this (good = 1, bad = 0); unrated never passes
    search: str | None = None  # text in the first user message
    only_excluded: bool = False

    def keeps(self, c: curation.Curation) -> bool:
        """Whether an episode in this curation state passes the curation-based filters."""
        if (c.excluded and not (self.include_excluded or self.only_excluded)) or (self.only_excluded and not c.excluded):
            return False
        if self.tag and self.tag not in c.tags:
            return False
        if self.rating == "rated" and c.rating is None or self.rating == "unrated" and c.rating is not None:
            return False
        if self.rating in ("good", "bad") and c.rating != self.rating:
            return False
        if self.rating not in (None, *RATING_CHOICES) and c.reward != float(self.rating):  # type: ignore[arg-type]
            return False
        return self.min_rating is None or (c.reward is not None and c.reward >= self.min_rating)


def refresh(db: sqlite3.Connection) -> None:
    """Bring episodes and links up to date with everything recorded so far (incremental)."""
    episodes.update(db)
    links.update(db)


def _where(filters: Filters, before: tuple[float, int] | None = None) -> tuple[str, list[Any]]:
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
    if filters.search:
        clauses.append("first_user LIKE ? ESCAPE '\\'")
        args.append("%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if before is not None:
        clauses.append("(started_at < ? OR (started_at = ? AND id < ?))")
        args += [before[0], before[0], before[1]]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def list_episodes(db: sqlite3.Connection, filters: Filters, limit: int = 50, before: tuple[float, int] | None = None) -> list[dict[str, Any]]:
    """Newest first; `before` is the (started_at, id) of the last row of the previous page (keyset paging)."""
    where, args = _where(filters, before)
    states = curation.state(db)
    out = []
    for row in db.execute(f"SELECT * FROM episodes{where} ORDER BY started_at DESC, id DESC", args):
        c = states.get(row["id"], curation.Curation())
        if not filters.keeps(c):
            continue
        out.append({**dict(row), "tags": sorted(c.tags), "excluded": c.excluded, "rating": c.rating, "edits": len(c.edits)})
        if len(out) >= limit:
            break
    return out


def iter_episodes(db: sqlite3.Connection, filters: Filters) -> Iterator[tuple[Episode, curation.Curation]]:
    """Every matching episode, oldest first, one at a time: memory stays flat as the store grows."""
    where, args = _where(filters)
    states = curation.state(db)
    ids = [r[0] for r in db.execute(f"SELECT id FROM episodes{where} ORDER BY started_at, id", args)]
    for episode_id in ids:
        c = states.get(episode_id, curation.Curation())
        if not filters.keeps(c):
            continue
        episode = episodes.conversation(db, episode_id)
        if episode is not None:
            yield episode, c


def count(db: sqlite3.Connection, filters: Filters) -> int:
    where, args = _where(filters)
    return int(db.execute(f"SELECT count(*) FROM episodes{where}", args).fetchone()[0])
