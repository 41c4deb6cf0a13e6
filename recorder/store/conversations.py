"""Conversations rebuilt from the store: each exchange translated by its dialect, stateful chains
(Responses `previous_response_id`) followed back, and whole episodes as exported.

The rules for stitching and reasoning live in recorder/episodes/history.py; this module finds the
rows they need.
"""

from __future__ import annotations

import json
from typing import Any

from recorder.dialects import by_name
from recorder.dialects.base import COMPLETE, Canonical, DialectError
from recorder.episodes.chain import Episode
from recorder.episodes.history import continued, with_recorded_reasoning
from recorder.episodes.normalize import chain
from recorder.store.dbapi import Connection

# One whose episode still ends (or may resume) at the exchange comes first, oldest first; else the newest.
ORDER = (
    "ORDER BY (e.last_exchange_id = ee.exchange_id OR e.resume_from = ee.exchange_id) DESC, "
    "CASE WHEN e.last_exchange_id = ee.exchange_id OR e.resume_from = ee.exchange_id THEN ee.exchange_id "
    "ELSE -ee.exchange_id END LIMIT 1"
)


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


class Conversations:
    """Translates exchanges and rebuilds stateful conversations, remembering what it built."""

    def __init__(self, db: Connection) -> None:
        self.db = db
        self._full: dict[int, list[dict[str, Any]]] = {}
        self._tools: dict[int, list[dict[str, Any]]] = {}

    def translate(self, row: Any, with_answer: bool = True) -> Canonical | None:
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

    def responded(self, response_id: str, session: str | None) -> Any:
        """The chained exchange whose answer had this id; one whose episode still ends there first."""
        sql = (
            "SELECT ee.exchange_id, ee.episode_id, e.last_exchange_id, e.resume_from FROM episode_exchanges ee "
            "JOIN episodes e ON e.id = ee.episode_id WHERE ee.answer_id = ? "
            + ("AND e.session = ? " if session else "")
            + ORDER
        )
        row: Any = self.db.execute(sql, (response_id, session) if session else (response_id,)).fetchone()
        return row

    def full(self, exchange_id: int) -> list[dict[str, Any]]:
        """The whole conversation of a chained exchange: what it was asked, then its answer."""
        links, at = [], exchange_id
        while at is not None and at not in self._full:
            row = self.db.execute(
                "SELECT x.id, x.dialect, x.request_json, ee.prev_exchange_id, ee.answer_json FROM episode_exchanges ee "
                "JOIN exchanges x ON x.id = ee.exchange_id WHERE ee.exchange_id = ?",
                (at,),
            ).fetchone()
            if row is None:
                break
            links.append(row)
            at = row["prev_exchange_id"]
        for row in reversed(links):
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


def load_episode(db: Connection, episode_id: int) -> Episode | None:
    """The whole conversation of the episode's last exchange, each assistant message with its own reasoning."""
    ep = db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
    if ep is None:
        return None
    last = db.execute(
        "SELECT id, dialect, completion_state, completion_reason FROM exchanges WHERE id = ?",
        (ep["last_exchange_id"],),
    ).fetchone()
    conversations = Conversations(db)
    messages = conversations.full(last["id"])
    hashes = chain(messages)
    for k, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        hit = db.execute(
            "SELECT answer_json FROM episode_exchanges WHERE (conv_hash = ? OR alt_hash = ?) AND answer_index = ? "
            "ORDER BY (episode_id = ?) DESC, exchange_id DESC LIMIT 1",
            (hashes[k], hashes[k], k, episode_id),
        ).fetchone()
        generated = json.loads(hit["answer_json"]) if hit and hit["answer_json"] else None
        messages[k] = with_recorded_reasoning(message, generated)
    ids = [
        r[0]
        for r in db.execute(
            "SELECT exchange_id FROM episode_exchanges WHERE episode_id = ? ORDER BY exchange_id", (episode_id,)
        )
    ]
    stats = {k: ep[k] for k in ep.keys() if k not in ("id", "session", "source", "started_at", "model")}  # noqa: SIM118
    return Episode(
        ep["id"],
        ep["session"],
        ep["source"],
        ep["started_at"],
        ep["model"],
        messages,
        conversations.tools(last["id"]),
        ids,
        stats,
        last["completion_state"] or COMPLETE,
        last["completion_reason"],
        last["dialect"],
    )
