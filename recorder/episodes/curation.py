"""Non-destructive curation: an append-only log of edits, replayed into each episode's state.

Raw recordings never change. Every step (tag, untag, exclude, include, drop_turns, strip_system,
keep_system, rate, edit) is a row; `undo` appends a row that cancels the latest step still in force.
An edit replaces an assistant turn's content or one tool call's arguments in the exported form;
the recorded original stays, so an edit is also a preference pair (original rejected, edit chosen).
"""

from __future__ import annotations

import json
import math
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
    # message index -> {"content": str, "arguments": {tool call index: str}}
    edits: dict[int, dict[str, Any]] = field(default_factory=dict)

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


def parse_rating(value: str | float) -> str | float:
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


def check_edit(
    messages: list[dict[str, Any]],
    index: int,
    *,
    content: str | None = None,
    tool_call: int | None = None,
    arguments: str | None = None,
) -> dict[str, Any]:
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
        parsed = json.loads(arguments or "")
    except ValueError:
        raise ValueError(f'the arguments of tool call {tool_call} must be JSON, e.g. {{"city": "Paris"}}') from None
    # Stored the way models and SDKs write arguments (json.dumps), whatever the editor's layout.
    return {"index": index, "tool_call": tool_call, "arguments": json.dumps(parsed, ensure_ascii=False)}


@dataclass(frozen=True)
class Step:
    """One entry of the log, as the store hands it back."""

    id: int
    at: float
    episode_id: int
    action: str
    args: dict[str, Any]


def validated(action: str, args: dict[str, Any]) -> dict[str, Any]:
    """A step's arguments as they will be logged; ValueError for an unknown action or a bad rating."""
    if action not in (*ACTIONS, "undo"):
        raise ValueError(f"unknown curation action {action!r}")
    if action == "rate":
        return {"value": parse_rating(args.get("value"))}  # type: ignore[arg-type]
    return args


def live(steps: list[Step]) -> list[Step]:
    """The steps still in force, oldest first: not undos, and not undone."""
    undone = {s.args["step"] for s in steps if s.action == "undo"}
    return [s for s in steps if s.action != "undo" and s.id not in undone]


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


def replay(steps: list[Step]) -> Curation:
    """One episode's state: its log, oldest first, replayed."""
    c = Curation()
    for step in live(steps):
        _apply(c, step.action, step.args)
    return c


def states(steps: list[Step]) -> dict[int, Curation]:
    """Every episode with a log, replayed; steps of many episodes may be mixed, oldest first."""
    by_episode: dict[int, list[Step]] = {}
    for step in steps:
        by_episode.setdefault(step.episode_id, []).append(step)
    return {episode_id: replay(own) for episode_id, own in by_episode.items()}


def history(steps: list[Step]) -> list[dict[str, Any]]:
    """One episode's log for people: each step with whether it is still in force."""
    in_force = {s.id for s in live(steps)}
    # An undo stays in force (it is never undone itself), so the log never marks it "(undone)".
    return [
        {"id": s.id, "at": s.at, "action": s.action, "args": s.args, "in_force": s.action == "undo" or s.id in in_force}
        for s in steps
    ]


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
