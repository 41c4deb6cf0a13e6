"""Conversations in canonical form: each exchange's request plus answer, translated by its dialect.

A stateless client resends the whole history, so one exchange holds its whole conversation. A
stateful one (Responses `previous_response_id`) sends only the new items: its conversation is the
one of the response it names, plus those items. A turn's tool-call ids are the set the next
request carries: vLLM streams other ids than it completes with, and clients send back either.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from recorder.dialects import by_name
from recorder.dialects.base import REDACTED, Canonical, DialectError

REASONING = ("reasoning_content", "reasoning")


def reasoning_of(message: dict[str, Any]) -> str | None:
    for name in REASONING:
        if message.get(name):
            return str(message[name])
    return None


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


class History:
    """Translates exchanges and rebuilds stateful conversations, remembering what it built."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._full: dict[int, list[dict[str, Any]]] = {}
        self._tools: dict[int, list[dict[str, Any]]] = {}

    def translate(self, row: sqlite3.Row, with_answer: bool = True) -> Canonical | None:
        """The exchange in canonical form, or None when it is not a conversation its dialect can read."""
        dialect = by_name(row["dialect"])
        request = _loads(row["request_json"])
        if dialect is None or not isinstance(request, dict):
            return None
        answer = _loads(row["response_json"]) if with_answer else None
        try:
            return dialect.canonical(request, answer if isinstance(answer, dict) else None, self._item)
        except DialectError:
            return None

    def _item(self, item_id: str) -> dict[str, Any] | None:
        """The stored answer whose output holds this item id (a Responses `item_reference`); newest first."""
        needle = json.dumps(item_id)
        for (text,) in self.db.execute(
            "SELECT response_json FROM exchanges WHERE dialect = 'responses' AND instr(response_json, ?) > 0 "
            "ORDER BY id DESC LIMIT 5",
            (needle,),
        ):
            answer = _loads(text)
            if isinstance(answer, dict):
                return answer
        return None

    def responded(self, response_id: str, session: str | None) -> sqlite3.Row | None:
        """The chained exchange whose answer had this id; one whose episode still ends there first."""
        sql = (
            "SELECT ee.exchange_id, ee.episode_id, e.last_exchange_id, e.resume_from FROM episode_exchanges ee "
            "JOIN episodes e ON e.id = ee.episode_id WHERE ee.answer_id = ? "
            + ("AND e.session = ? " if session else "")
            + ORDER
        )
        row: sqlite3.Row | None = self.db.execute(sql, (response_id, session) if session else (response_id,)).fetchone()
        return row

    def full(self, exchange_id: int) -> list[dict[str, Any]]:
        """The whole conversation of a chained exchange: what it was asked, then its answer."""
        chain, at = [], exchange_id
        while at is not None and at not in self._full:
            row = self.db.execute(
                "SELECT x.id, x.dialect, x.request_json, ee.prev_exchange_id, ee.answer_json FROM episode_exchanges ee "
                "JOIN exchanges x ON x.id = ee.exchange_id WHERE ee.exchange_id = ?",
                (at,),
            ).fetchone()
            if row is None:
                break
            chain.append(row)
            at = row["prev_exchange_id"]
        for row in reversed(chain):
            canonical = self.translate(row, with_answer=False)
            asked = canonical.messages if canonical else []
            self._tools[row["id"]] = (canonical.tools if canonical else None) or []
            previous = row["prev_exchange_id"]
            before = self._full.get(previous) if previous else None
            messages = continued(before, asked, self.alternates(previous)) if before is not None else list(asked)
            answer = _loads(row["answer_json"])
            self._full[row["id"]] = messages + ([answer] if isinstance(answer, dict) else [])
        return list(self._full.get(exchange_id, []))

    def tools(self, exchange_id: int) -> list[dict[str, Any]]:
        """The tools a chained exchange offered, in canonical form (after `full`)."""
        if exchange_id not in self._tools:
            self.full(exchange_id)
        return self._tools.get(exchange_id, [])

    def continued(self, previous: int, asked: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A stateful request's whole conversation: the one it continues, then its new items."""
        return continued(self.full(previous), asked, self.alternates(previous))

    def alternates(self, exchange_id: int) -> dict[str, str]:
        row = self.db.execute("SELECT alt_ids FROM episode_exchanges WHERE exchange_id = ?", (exchange_id,)).fetchone()
        return (_loads(row["alt_ids"]) or {}) if row else {}


# One whose episode still ends (or may resume) at the exchange comes first, oldest first; else the newest.
ORDER = (
    "ORDER BY (e.last_exchange_id = ee.exchange_id OR e.resume_from = ee.exchange_id) DESC, "
    "CASE WHEN e.last_exchange_id = ee.exchange_id OR e.resume_from = ee.exchange_id THEN ee.exchange_id "
    "ELSE -ee.exchange_id END LIMIT 1"
)


def continued(
    before: list[dict[str, Any]], asked: list[dict[str, Any]], alternates: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """`before` then the new items. New instructions replace the leading system messages; when the
    new tool results name the answer's alternate ids, the answer takes those ids."""
    history = list(before)
    lead = 0
    while lead < len(asked) and asked[lead].get("role") == "system":
        lead += 1
    if lead:
        kept = 0
        while kept < len(history) and history[kept].get("role") == "system":
            kept += 1
        history = asked[:lead] + history[kept:]
    carried = {m.get("tool_call_id") for m in asked if m.get("role") == "tool"}
    if alternates and history and history[-1].get("role") == "assistant":
        history[-1] = with_carried_ids(history[-1], carried, alternates)
    return history + asked[lead:]


def with_carried_ids(answer: dict[str, Any], carried: set[Any], alternates: dict[str, str]) -> dict[str, Any]:
    """The answer with the tool-call ids the next request carried back (either set is accepted)."""
    calls = answer.get("tool_calls") or []
    if not calls or any(c.get("id") in carried for c in calls):
        return answer
    if not any(alternates.get(c.get("id")) in carried for c in calls):
        return answer
    swapped = [{**c, "id": alternates.get(c.get("id"), c.get("id"))} for c in calls]
    return {**answer, "tool_calls": swapped}


def with_recorded_reasoning(message: dict[str, Any], generated: dict[str, Any] | None) -> dict[str, Any]:
    """An assistant message with the reasoning recorded when it was generated, under `reasoning_content`."""
    present = reasoning_of(message)
    recorded = reasoning_of(generated) if generated else None
    out = {k: v for k, v in message.items() if k not in REASONING}
    if present or recorded:
        out["reasoning_content"] = present or recorded
    if generated and generated.get(REDACTED):
        out[REDACTED] = True
    return out
