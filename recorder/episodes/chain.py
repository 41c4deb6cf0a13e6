"""Episodes: the chat exchanges of one agent run, chained by their message prefixes.

An agent resends the whole history on every call, so an exchange whose request starts with an
earlier exchange's request plus its answer continues that episode; anything else starts one (an
edit or a restart). Chaining is incremental: `update()` handles only exchanges it has not seen,
so listing stays fast however large the store grows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from recorder.episodes.normalize import canonical_args, chain
from recorder.store.sqlite import transaction

REASONING = ("reasoning_content", "reasoning")


def answer_of(response_json: str | None) -> dict[str, Any] | None:
    if not response_json:
        return None
    try:
        response = json.loads(response_json)
    except ValueError:
        return None
    choices = response.get("choices") if isinstance(response, dict) else None
    if not choices or not isinstance(choices[0].get("message"), dict):
        return None
    message = dict(choices[0]["message"])
    message.setdefault("role", "assistant")
    return message


def reasoning_of(message: dict[str, Any]) -> str | None:
    for name in REASONING:
        if message.get(name):
            return str(message[name])
    return None


def get_cursor(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT value FROM _cursors WHERE name = ?", (name,)).fetchone()
    return row[0] if row else 0


def set_cursor(db: sqlite3.Connection, name: str, value: int) -> None:
    db.execute("INSERT INTO _cursors VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))


def _first_user(messages: list[dict[str, Any]]) -> str | None:
    for m in messages:
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")[:500]
    return None


def update(db: sqlite3.Connection, batch: int = 500) -> int:
    """Chain every exchange recorded since the last call; returns how many were looked at."""
    seen = 0
    while True:
        cursor = get_cursor(db, "episodes")
        last = db.execute("SELECT max(id) FROM exchanges").fetchone()[0] or 0  # first: rows written later wait
        if last <= cursor:
            return seen  # nothing new: no write, no lock
        rows = db.execute(
            "SELECT id, started_at, duration_ms, session, model, method, request_json, response_json, "
            "prompt_tokens, completion_tokens FROM exchanges WHERE id > ? AND id <= ? "
            "AND (path LIKE '%/chat/completions' OR method = 'IMPORT') ORDER BY id LIMIT ?",
            (cursor, last, batch),
        ).fetchall()
        with transaction(db):
            if get_cursor(db, "episodes") != cursor:
                continue  # another reader chained these while we read them: look again
            for row in rows:
                _add(db, row)
            set_cursor(db, "episodes", rows[-1]["id"] if len(rows) == batch else last)
        seen += len(rows)
        if len(rows) < batch:
            return seen


def _add(db: sqlite3.Connection, row: sqlite3.Row) -> None:
    try:
        request = json.loads(row["request_json"] or "null")
    except ValueError:
        return
    messages = request.get("messages") if isinstance(request, dict) else None
    answer = answer_of(row["response_json"])
    if not isinstance(messages, list) or (answer is None and row["method"] != "IMPORT"):
        return  # a failed call is not a turn
    conversation = [m for m in messages if isinstance(m, dict)] + ([answer] if answer else [])
    hashes = chain(conversation)
    parent = _parent(db, conversation, hashes, row["session"])
    answered_at = row["started_at"] + (row["duration_ms"] or 0) / 1000
    turns = sum(1 for m in conversation if m.get("role") == "assistant")
    calls = sum(len(m.get("tool_calls") or []) for m in conversation)
    tokens = (row["prompt_tokens"] or 0, row["completion_tokens"] or 0)
    if parent is not None and parent["last_exchange_id"] == parent["exchange_id"]:
        episode = parent["episode_id"]
        db.execute(
            "UPDATE episodes SET updated_at = ?, last_exchange_id = ?, exchanges = exchanges + 1, turns = ?, tool_calls = ?, "
            "prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, model = coalesce(?, model) WHERE id = ?",
            (row["started_at"], row["id"], turns, calls, *tokens, row["model"], episode),
        )
    else:
        episode = db.execute(
            "INSERT INTO episodes (session, source, started_at, updated_at, model, last_exchange_id, exchanges, turns, "
            "tool_calls, prompt_tokens, completion_tokens, first_user, forked_from) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
            (
                row["session"], "import" if row["method"] == "IMPORT" else "proxy", row["started_at"], row["started_at"],
                row["model"], row["id"], turns, calls, *tokens, _first_user(messages), parent["episode_id"] if parent else None,
            ),
        ).lastrowid
    db.execute("INSERT OR REPLACE INTO episode_exchanges VALUES (?, ?, ?, ?)", (row["id"], episode, len(conversation) - 1, hashes[-1]))
    for idx, call in enumerate((answer or {}).get("tool_calls") or []):
        fn = call.get("function") or {}
        db.execute(
            "INSERT OR REPLACE INTO llm_tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (row["id"], idx, call.get("id"), fn.get("name") or "", canonical_args(fn.get("arguments")), row["session"], answered_at),
        )
    returned = [m.get("tool_call_id") for m in messages if isinstance(m, dict) and m.get("role") == "tool" and m.get("tool_call_id")]
    for tool_call_id in returned:
        db.execute(
            "UPDATE llm_tool_calls SET consumed_at = ? WHERE tool_call_id = ? AND consumed_at IS NULL AND answered_at <= ?",
            (row["started_at"], tool_call_id, row["started_at"]),
        )


def _parent(db: sqlite3.Connection, conversation: list[dict[str, Any]], hashes: list[str], session: str | None) -> sqlite3.Row | None:
    """The exchange whose request + answer is the longest prefix of this request.

    Among equal prefixes, one whose episode still ends there comes first, oldest first: N
    identical concurrent runs (same answers, ids included) then continue N episodes instead of
    piling onto the newest one. Only when every match has moved on is this a fork (of the newest).
    """
    for k in range(len(conversation) - 2, -1, -1):
        if conversation[k].get("role") != "assistant":
            continue
        sql = (
            "SELECT ee.exchange_id, ee.episode_id, e.last_exchange_id FROM episode_exchanges ee "
            "JOIN episodes e ON e.id = ee.episode_id WHERE ee.conv_hash = ? AND ee.answer_index = ? "
            + ("AND e.session = ? " if session else "")
            + "ORDER BY (e.last_exchange_id = ee.exchange_id) DESC, "
            "CASE WHEN e.last_exchange_id = ee.exchange_id THEN ee.exchange_id ELSE -ee.exchange_id END LIMIT 1"
        )
        args: tuple[Any, ...] = (hashes[k], k, session) if session else (hashes[k], k)
        row = db.execute(sql, args).fetchone()
        if row is not None:
            return row
    return None


@dataclass
class Episode:
    id: int
    session: str | None
    source: str
    started_at: float
    model: str | None
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    exchange_ids: list[int] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def conversation(db: sqlite3.Connection, episode_id: int) -> Episode | None:
    """The last request's messages plus its answer, each assistant message with its own reasoning."""
    ep = db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
    if ep is None:
        return None
    ex = db.execute("SELECT request_json, response_json FROM exchanges WHERE id = ?", (ep["last_exchange_id"],)).fetchone()
    request = json.loads(ex["request_json"])
    answer = answer_of(ex["response_json"])
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)] + ([answer] if answer else [])
    hashes = chain(messages)
    for k, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        recorded = None
        if k == len(messages) - 1 and answer is not None:
            recorded = reasoning_of(answer)
        else:
            hit = db.execute(
                "SELECT x.response_json FROM episode_exchanges ee JOIN exchanges x ON x.id = ee.exchange_id "
                "WHERE ee.conv_hash = ? AND ee.answer_index = ? ORDER BY (ee.episode_id = ?) DESC, ee.exchange_id DESC LIMIT 1",
                (hashes[k], k, episode_id),
            ).fetchone()
            generated = answer_of(hit["response_json"]) if hit else None
            recorded = reasoning_of(generated) if generated else None
        present = reasoning_of(message)
        message = {k2: v for k2, v in message.items() if k2 not in REASONING}
        if present or recorded:
            message["reasoning_content"] = present or recorded
        messages[k] = message
    ids = [r[0] for r in db.execute("SELECT exchange_id FROM episode_exchanges WHERE episode_id = ? ORDER BY exchange_id", (episode_id,))]
    stats = {k: ep[k] for k in ep.keys() if k not in ("id", "session", "source", "started_at", "model")}
    return Episode(ep["id"], ep["session"], ep["source"], ep["started_at"], ep["model"], messages, request.get("tools") or [], ids, stats)
