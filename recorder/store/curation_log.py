"""The curation log in SQL: append a step, read steps back. Replaying them is recorder/episodes/curation.py."""

from __future__ import annotations

import json
import time
from typing import Any

from recorder.episodes.curation import Step
from recorder.store.dbapi import Connection


def append(db: Connection, episode_id: int, action: str, args: dict[str, Any]) -> int:
    """Log one step; LookupError when there is no such episode. Returns the step's id."""
    if db.execute("SELECT 1 FROM episodes WHERE id = ?", (episode_id,)).fetchone() is None:
        raise LookupError(f"no episode {episode_id}")
    cur = db.execute(
        "INSERT INTO curation (at, episode_id, action, args) VALUES (?, ?, ?, ?) RETURNING id",
        (time.time(), episode_id, action, json.dumps(args)),
    )
    return int(cur.fetchone()[0])


def steps(db: Connection, episode_ids: list[int] | None = None) -> list[Step]:
    """The log, oldest first: of every episode, or of these."""
    if episode_ids is None:
        rows = db.execute("SELECT * FROM curation ORDER BY id").fetchall()
    elif episode_ids:
        marks = ",".join("?" * len(episode_ids))
        rows = db.execute(f"SELECT * FROM curation WHERE episode_id IN ({marks}) ORDER BY id", episode_ids).fetchall()
    else:
        rows = []
    return [Step(r["id"], r["at"], r["episode_id"], r["action"], json.loads(r["args"])) for r in rows]
