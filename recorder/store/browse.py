"""Reads for browsing episodes: a change marker for live views, and per-turn figures."""

from __future__ import annotations

from typing import Any

from recorder.store.dbapi import Connection


def version(db: Connection) -> str:
    """Changes whenever anything is recorded or curated: a cheap marker for live views."""
    row = db.execute(
        "SELECT (SELECT max(id) FROM exchanges), (SELECT max(id) FROM mcp_messages), (SELECT max(id) FROM curation)"
    ).fetchone()
    return ":".join(str(v or 0) for v in row)


def summary(db: Connection, episode_id: int) -> dict[str, Any] | None:
    """The episode's row: start, model, counts, tokens, first user message, fork parent."""
    row = db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
    return dict(row) if row else None


def turn_stats(db: Connection, episode_id: int) -> dict[int, dict[str, Any]]:
    """Message index of each answer -> the exchange that generated it: tokens, TTFB, duration, status."""
    rows = db.execute(
        "SELECT ee.answer_index, x.id, x.started_at, x.status, x.ttfb_ms, x.duration_ms, "
        "x.prompt_tokens, x.completion_tokens, x.incomplete, x.error, x.stream, "
        "x.completion_state, x.completion_reason "
        "FROM episode_exchanges ee JOIN exchanges x ON x.id = ee.exchange_id "
        "WHERE ee.episode_id = ? ORDER BY ee.exchange_id",
        (episode_id,),
    ).fetchall()
    return {r["answer_index"]: {k: r[k] for k in r.keys() if k != "answer_index"} for r in rows}  # noqa: SIM118  (a Row is no dict)


def episode_of(db: Connection, exchange_id: int) -> int | None:
    """The episode an exchange was chained into, if any."""
    row = db.execute("SELECT episode_id FROM episode_exchanges WHERE exchange_id = ?", (exchange_id,)).fetchone()
    return row[0] if row else None
