"""Non-destructive curation: an append-only log of edits, replayed into each episode's state.

Raw recordings never change. Every step (tag, untag, exclude, include, drop_turns, strip_system,
keep_system, rate, edit) is a row; `undo` appends a row that cancels the latest step still in force.
An edit replaces an assistant turn's content or one tool call's arguments in the exported form;
the recorded original stays, so an edit is also a preference pair (original rejected, edit chosen).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("tag", "untag", "exclude", "include", "drop_turns", "strip_system", "keep_system", "rate", "edit")
RATINGS = {"good": 1.0, "bad": 0.0}  # the named ratings as rewards, for --min-rating


@dataclass
class Curation:
    tags: set[str] = field(default_factory=set)
    excluded: bool = False
    dropped: list[tuple[int, int]] = field(default_factory=list)  # inclusive message index ranges
    strip_system: bool = False
    rating: str | float | None = None  # "good", "bad" or a numeric reward
    edits: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> {"content": str, "arguments": {call: str}}

    def drops(self, index: int) -> bool:
        return any(a <= index <= b for a, b in self.dropped)

    @property
    def reward(self) -> float | None:
        """The rating as a number: good is 1, bad is 0, a numeric reward is itself."""
        if isinstance(self.rating, str):
            return RATINGS[self.rating]
        return self.rating

    def edited(self, index: int, message: dict[str, Any]) -> dict[str, Any]:
        """The message with this curation's edits applied (the message itself when there are none)."""
        edit = self.edits.get(index)
        if not edit:
            return message
        out = dict(message)
        if "content" in edit:
            out["content"] = edit["content"]
        if edit.get("arguments"):
            calls = [dict(c) for c in out.get("tool_calls") or []]
            for k, arguments in edit["arguments"].items():
                if k < len(calls):
                    calls[k]["function"] = {**(calls[k].get("function") or {}), "arguments": arguments}
            out["tool_calls"] = calls
        return out


def parse_rating(value: str | float | int) -> str | float:
    """good, bad or a finite number; anything else is a ValueError phrased for the user."""
    if isinstance(value, str) and value.strip().lower() in RATINGS:
        return value.strip().lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r}: a rating is good, bad or a number (a reward, e.g. 0.8)") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r}: a numeric rating must be finite")
    return number


def check_edit(messages: list[dict[str, Any]], index: int, *, content: str | None = None, tool_call: int | None = None, arguments: str | None = None) -> dict[str, Any]:
    """Validate an edit against the episode's messages; returns the log step's arguments."""
    if not 0 <= index < len(messages) or messages[index].get("role") != "assistant":
        raise ValueError(f"message {index} is not an assistant turn (only assistant turns can be edited)")
    if tool_call is None:
        if content is None:
            raise ValueError("an edit needs new content, or a tool call index and its new arguments")
        return {"index": index, "content": content}
    calls = messages[index].get("tool_calls") or []
    if not 0 <= tool_call < len(calls):
        raise ValueError(f"message {index} has {len(calls)} tool call(s); there is no tool call {tool_call}")
    try:
        json.loads(arguments or "")
    except ValueError:
        raise ValueError(f"the arguments of tool call {tool_call} must be JSON, e.g. {{\"city\": \"Paris\"}}") from None
    return {"index": index, "tool_call": tool_call, "arguments": arguments}


def record(db: sqlite3.Connection, episode_id: int, action: str, **args: Any) -> int:
    if action not in (*ACTIONS, "undo"):
        raise ValueError(f"unknown curation action {action!r}")
    if action == "rate":
        args = {"value": parse_rating(args.get("value"))}  # type: ignore[arg-type]
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


def _apply(c: Curation, action: str, args: dict[str, Any]) -> None:
    if action == "tag":
        c.tags.update(args["tags"])
    elif action == "untag":
        c.tags.difference_update(args["tags"])
    elif action in ("exclude", "include"):
        c.excluded = action == "exclude"
    elif action == "drop_turns":
        c.dropped.append((args["start"], args["end"]))
    elif action in ("strip_system", "keep_system"):
        c.strip_system = action == "strip_system"
    elif action == "rate":
        c.rating = args["value"]
    elif action == "edit":
        edit = c.edits.setdefault(int(args["index"]), {})
        if "tool_call" in args:
            edit.setdefault("arguments", {})[int(args["tool_call"])] = args["arguments"]
        else:
            edit["content"] = args["content"]


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
            _apply(c, step["action"], json.loads(step["args"]))
    return out


def history(db: sqlite3.Connection, episode_id: int) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM curation WHERE episode_id = ? ORDER BY id", (episode_id,)).fetchall()
    live = {r["id"] for r in _live(rows)}
    return [{"id": r["id"], "at": r["at"], "action": r["action"], "args": json.loads(r["args"]), "in_force": r["id"] in live} for r in rows]


def describe(step: dict[str, Any]) -> str:
    """One line for a log step, the same in `traces history` and the viewer's history panel."""
    args, action = step["args"], step["action"]
    if action in ("tag", "untag"):
        text = f"{action} {' '.join(args['tags'])}"
    elif action == "drop_turns":
        text = f"drop turns {args['start']}..{args['end']}"
    elif action == "rate":
        text = f"rate {args['value']}"
    elif action == "edit":
        what = f"tool call {args['tool_call']} arguments" if "tool_call" in args else "content"
        text = f"edit message {args['index']} {what}"
    elif action == "undo":
        text = f"undo #{args['step']}"
    else:
        text = action.replace("_", " ")
    return text + ("" if step["in_force"] else " (undone)")
