"""Non-destructive curation: an append-only log of edits, replayed into each episode's state.

Raw recordings never change. Every step (tag, untag, exclude, include, drop_turns, strip_system)
is a row; `undo` appends a row that cancels the latest step still in force.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("tag", "untag", "exclude", "include", "drop_turns", "strip_system", "keep_system")


@dataclass
class Curation:
    tags: set[str] = field(default_factory=set)
    excluded: bool = False
    dropped: list[tuple[int, int]] = field(default_factory=list)  # inclusive message index ranges
    strip_system: bool = False

    def drops(self, index: int) -> bool:
        return any(a <= index <= b for a, b in self.dropped)


def record(db: sqlite3.Connection, episode_id: int, action: str, **args: Any) -> int:
    if action not in (*ACTIONS, "undo"):
        raise ValueError(f"unknown curation action {action!r}")
    if db.execute("SELECT 1 FROM episodes WHERE id = ?", (episode_id,)).fetchone() is None:
        raise LookupError(f"no episode {episode_id}")
    cur = db.execute("INSERT INTO curation (at, episode_id, action, args) VALUES (?, ?, ?, ?)", (time.time(), episode_id, action, json.dumps(args)))
    return int(cur.lastrowid or 0)


def undo(db: sqlite3.Connection, episode_id: int) -> sqlite3.Row | None:
    """Cancel the latest step still in force; returns it, or None when there is nothing to undo."""
    live = _live(db.execute("SELECT * FROM curation WHERE episode_id = ? ORDER BY id", (episode_id,)).fetchall())
    if not live:
        return None
    step = live[-1]
    record(db, episode_id, "undo", step=step["id"])
    return step


def _live(rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    undone = {json.loads(r["args"])["step"] for r in rows if r["action"] == "undo"}
    return [r for r in rows if r["action"] != "undo" and r["id"] not in undone]


def state(db: sqlite3.Connection, episode_ids: list[int] | None = None) -> dict[int, Curation]:
    """Replay the log into each episode's current state (all episodes with any log, or these)."""
    if episode_ids is None:
        rows = db.execute("SELECT * FROM curation ORDER BY id").fetchall()
    elif episode_ids:
        marks = ",".join("?" * len(episode_ids))
        rows = db.execute(f"SELECT * FROM curation WHERE episode_id IN ({marks}) ORDER BY id", episode_ids).fetchall()
    else:
        rows = []
    by_episode: dict[int, list[sqlite3.Row]] = {}
    for r in rows:
        by_episode.setdefault(r["episode_id"], []).append(r)
    out: dict[int, Curation] = {}
    for episode_id, steps in by_episode.items():
        c = out[episode_id] = Curation()
        for step in _live(steps):
            args = json.loads(step["args"])
            if step["action"] == "tag":
                c.tags.update(args["tags"])
            elif step["action"] == "untag":
                c.tags.difference_update(args["tags"])
            elif step["action"] in ("exclude", "include"):
                c.excluded = step["action"] == "exclude"
            elif step["action"] == "drop_turns":
                c.dropped.append((args["start"], args["end"]))
            elif step["action"] in ("strip_system", "keep_system"):
                c.strip_system = step["action"] == "strip_system"
    return out


def history(db: sqlite3.Connection, episode_id: int) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM curation WHERE episode_id = ? ORDER BY id", (episode_id,)).fetchall()
    live = {r["id"] for r in _live(rows)}
    return [{"id": r["id"], "at": r["at"], "action": r["action"], "args": json.loads(r["args"]), "in_force": r["id"] in live} for r in rows]
