"""The episodes table kept up to date: each new exchange chained onto the episode it continues
(rules in recorder/episodes/chain.py), incrementally, behind a cursor.

Several readers may refresh at once, on either backend: each batch reads and moves the cursor
under its lock, so no exchange is chained twice; and it reads only up to a frontier that no batch
still being written can fall below (see `dbapi.frontier`), so none is skipped.
"""

from __future__ import annotations

import json
from typing import Any

from recorder.dialects.base import COMPLETE, ERROR, INCOMPLETE
from recorder.episodes.chain import Turn, prefix_points, turn
from recorder.episodes.normalize import canonical_args
from recorder.store import cursors, dbapi
from recorder.store.conversations import ORDER, Conversations
from recorder.store.dbapi import Connection

_COLUMNS = (
    "id, started_at, duration_ms, session, model, method, dialect, request_json, response_json, "
    "prompt_tokens, completion_tokens, completion_state"
)


def update(db: Connection, batch: int = 500) -> int:
    """Chain every exchange recorded since the last call; returns how many were looked at."""
    if (db.execute("SELECT max(id) FROM exchanges").fetchone()[0] or 0) <= cursors.get(db, "episodes"):
        return 0  # nothing new: no write, no lock
    last = dbapi.frontier(db, "exchanges")  # first: rows still being written wait for the next refresh
    seen = 0
    conversations = Conversations(db)
    while True:
        with dbapi.transaction(db):
            dbapi.lock_cursor(db, "episodes")
            cursor = cursors.get(db, "episodes")  # under the lock: another reader may have moved it
            if last <= cursor:
                return seen
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM exchanges x WHERE id > ? AND id <= ? AND dialect IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM episode_exchanges ee WHERE ee.exchange_id = x.id) ORDER BY id LIMIT ?",
                (cursor, last, batch),
            ).fetchall()
            for row in rows:
                _add(db, conversations, row)
            cursors.put(db, "episodes", rows[-1]["id"] if len(rows) == batch else last)
        seen += len(rows)
        if len(rows) < batch:
            return seen


def _add(db: Connection, conversations: Conversations, row: Any) -> None:
    if row["completion_state"] == ERROR:
        return  # a failed call is not a turn
    canonical = conversations.translate(row)
    if canonical is None or (canonical.answer is None and row["method"] != "IMPORT"):
        return
    previous = canonical.previous_response_id
    stateful = conversations.responded(previous, row["session"]) if previous else None
    asked = conversations.continued(stateful["exchange_id"], canonical.messages) if stateful else canonical.messages
    new = turn(dict(row), canonical, asked, stateful["exchange_id"] if stateful else None)
    episode = _place(db, new, stateful or _parent(db, new))
    _remember(db, new, episode)
    if new.state != INCOMPLETE:  # a cut-off answer's tool calls may be half-written
        _tool_calls(db, new)
    _returned(db, new)


def _parent(db: Connection, new: Turn) -> Any:
    """The exchange whose request + answer is the longest prefix of this request.

    Among equal prefixes, one whose episode still ends there comes first, oldest first: N
    identical concurrent runs (same answers, ids included) then continue N episodes instead of
    piling onto the newest one. Only when every match has moved on is this a fork (of the newest).
    """
    for k in prefix_points(new):
        sql = (
            "SELECT ee.exchange_id, ee.episode_id, e.last_exchange_id, e.resume_from FROM episode_exchanges ee "
            "JOIN episodes e ON e.id = ee.episode_id WHERE (ee.conv_hash = ? OR ee.alt_hash = ?) "
            "AND ee.answer_index = ? " + ("AND e.session = ? " if new.session else "") + ORDER
        )
        args: tuple[Any, ...] = (new.hashes[k], new.hashes[k], k) + ((new.session,) if new.session else ())
        row: Any = db.execute(sql, args).fetchone()
        if row is not None:
            return row
    return None


def _place(db: Connection, new: Turn, parent: Any) -> int:
    """Continue the parent's episode when it still ends (or may resume) there; else start one. Returns its id."""
    ends_there = parent is not None and parent["exchange_id"] in (parent["last_exchange_id"], parent["resume_from"])
    continued = parent if ends_there else None
    # A retry may replace an answer that did not finish: the episode can resume from the turn before it.
    resume = new.exchange_id if new.state == COMPLETE else (continued["exchange_id"] if continued else None)
    if continued is not None:
        db.execute(
            "UPDATE episodes SET updated_at = ?, last_exchange_id = ?, resume_from = ?, exchanges = exchanges + 1, "
            "turns = ?, tool_calls = ?, prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, "
            "model = coalesce(?, model) WHERE id = ?",
            (new.started_at, new.exchange_id, resume, new.turns, new.tool_calls, *new.tokens, new.model,
             continued["episode_id"]),
        )  # fmt: skip
        return int(continued["episode_id"])
    cur = db.execute(
        "INSERT INTO episodes (session, source, started_at, updated_at, model, last_exchange_id, resume_from, "
        "exchanges, turns, tool_calls, prompt_tokens, completion_tokens, first_user, forked_from) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING id",
        (new.session, new.source, new.started_at, new.started_at, new.model, new.exchange_id, resume, new.turns,
         new.tool_calls, *new.tokens, new.first_user, parent["episode_id"] if parent else None),
    )  # fmt: skip
    return int(cur.fetchone()[0])


def _remember(db: Connection, new: Turn, episode: int) -> None:
    """Where this exchange's answer sits, so later requests can find it as their prefix."""
    canonical = new.canonical
    db.execute(
        "INSERT INTO episode_exchanges (exchange_id, episode_id, answer_index, conv_hash, alt_hash, "
        "answer_json, answer_id, alt_ids, prev_exchange_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (exchange_id) DO UPDATE SET episode_id = excluded.episode_id, "
        "answer_index = excluded.answer_index, conv_hash = excluded.conv_hash, alt_hash = excluded.alt_hash, "
        "answer_json = excluded.answer_json, "
        "answer_id = excluded.answer_id, alt_ids = excluded.alt_ids, prev_exchange_id = excluded.prev_exchange_id",
        (new.exchange_id, episode, len(new.conversation) - 1, new.hashes[-1], new.alt_hash,
         json.dumps(new.answer, ensure_ascii=False) if new.answer else None, canonical.response_id,
         json.dumps(canonical.alt_call_ids) if canonical.alt_call_ids else None, new.continues_exchange),
    )  # fmt: skip


def _tool_calls(db: Connection, new: Turn) -> None:
    alt = new.canonical.alt_call_ids
    for idx, call in enumerate((new.answer or {}).get("tool_calls") or []):
        fn = call.get("function") or {}
        db.execute(
            "INSERT INTO llm_tool_calls (exchange_id, idx, tool_call_id, name, arguments, session, "
            "answered_at, alt_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (exchange_id, idx) DO UPDATE SET "
            "tool_call_id = excluded.tool_call_id, name = excluded.name, arguments = excluded.arguments, "
            "session = excluded.session, answered_at = excluded.answered_at, alt_id = excluded.alt_id, "
            "consumed_at = NULL",
            (new.exchange_id, idx, call.get("id"), fn.get("name") or "", canonical_args(fn.get("arguments")),
             new.session, new.answered_at, alt.get(call.get("id") or "")),
        )  # fmt: skip


def _returned(db: Connection, new: Turn) -> None:
    """Tool results carried back: mark their calls consumed, under the id the client used.

    One query for all of a request's results, not one per result: on a server, round trips are
    what chaining costs."""
    at, returned = new.started_at, list(dict.fromkeys(new.returned))
    if not returned:
        return
    marks = ", ".join("?" * len(returned))
    for call in db.execute(
        "SELECT exchange_id, idx, tool_call_id, alt_id FROM llm_tool_calls "
        f"WHERE alt_id IN ({marks}) AND answered_at <= ?",
        (*returned, at),
    ).fetchall():
        # The client sent back the other id set (streamed vs completed): that set is the turn's.
        db.execute(
            "UPDATE llm_tool_calls SET tool_call_id = alt_id, alt_id = tool_call_id WHERE exchange_id = ? AND idx = ?",
            (call["exchange_id"], call["idx"]),
        )
        db.execute(
            "UPDATE links SET tool_call_id = ? WHERE exchange_id = ? AND tool_call_id = ?",
            (call["alt_id"], call["exchange_id"], call["tool_call_id"]),
        )
    db.execute(
        f"UPDATE llm_tool_calls SET consumed_at = ? WHERE tool_call_id IN ({marks}) "
        "AND consumed_at IS NULL AND answered_at <= ?",
        (at, *returned, at),
    )
