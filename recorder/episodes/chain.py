"""Episodes: the exchanges of one agent run, chained by their message prefixes, in every dialect.

Each exchange is read in canonical chat form (its dialect translates it). An agent resends the
whole history on every call, so an exchange whose request starts with an earlier exchange's
request plus its answer continues that episode; a Responses request naming `previous_response_id`
continues the episode of that response; anything else starts one (an edit or a restart).
Chaining is incremental: `update()` handles only exchanges it has not seen, so listing stays
fast however large the store grows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from recorder.dialects.base import COMPLETE, ERROR, INCOMPLETE
from recorder.episodes.history import ORDER, History, with_recorded_reasoning
from recorder.episodes.normalize import canonical_args, chain
from recorder.store.sqlite import transaction

_COLUMNS = (
    "id, started_at, duration_ms, session, model, method, dialect, request_json, response_json, "
    "prompt_tokens, completion_tokens, completion_state"
)


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
    history = History(db)
    while True:
        cursor = get_cursor(db, "episodes")
        last = db.execute("SELECT max(id) FROM exchanges").fetchone()[0] or 0  # first: rows written later wait
        if last <= cursor:
            return seen  # nothing new: no write, no lock
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM exchanges x WHERE id > ? AND id <= ? AND dialect IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM episode_exchanges ee WHERE ee.exchange_id = x.id) ORDER BY id LIMIT ?",
            (cursor, last, batch),
        ).fetchall()
        with transaction(db):
            if get_cursor(db, "episodes") != cursor:
                continue  # another reader chained these while we read them: look again
            for row in rows:
                _add(db, history, row)
            set_cursor(db, "episodes", rows[-1]["id"] if len(rows) == batch else last)
        seen += len(rows)
        if len(rows) < batch:
            return seen


def _add(db: sqlite3.Connection, history: History, row: sqlite3.Row) -> None:
    if row["completion_state"] == ERROR:
        return  # a failed call is not a turn
    canonical = history.translate(row)
    if canonical is None or (canonical.answer is None and row["method"] != "IMPORT"):
        return
    answer, session = canonical.answer, row["session"]
    stateful = history.responded(canonical.previous_response_id, session) if canonical.previous_response_id else None
    messages = history.continued(stateful["exchange_id"], canonical.messages) if stateful else canonical.messages
    conversation = messages + ([answer] if answer else [])
    hashes = chain(conversation)
    variants = canonical.answer_variants()
    alt_hash = chain([*messages, variants[1]])[-1] if len(variants) > 1 else None
    parent = stateful or _parent(db, conversation, hashes, session)
    state = row["completion_state"] or COMPLETE
    answered_at = row["started_at"] + (row["duration_ms"] or 0) / 1000
    turns = sum(1 for m in conversation if m.get("role") == "assistant")
    calls = sum(len(m.get("tool_calls") or []) for m in conversation)
    tokens = (row["prompt_tokens"] or 0, row["completion_tokens"] or 0)
    continues = parent is not None and parent["exchange_id"] in (parent["last_exchange_id"], parent["resume_from"])
    # A retry may replace an answer that did not finish: the episode can resume from the turn before it.
    resume = row["id"] if state == COMPLETE else (parent["exchange_id"] if parent is not None and continues else None)
    if parent is not None and continues:
        episode = parent["episode_id"]
        db.execute(
            "UPDATE episodes SET updated_at = ?, last_exchange_id = ?, resume_from = ?, exchanges = exchanges + 1, "
            "turns = ?, tool_calls = ?, prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, "
            "model = coalesce(?, model) WHERE id = ?",
            (row["started_at"], row["id"], resume, turns, calls, *tokens, row["model"], episode),
        )
    else:
        episode = db.execute(
            "INSERT INTO episodes (session, source, started_at, updated_at, model, last_exchange_id, resume_from, "
            "exchanges, turns, tool_calls, prompt_tokens, completion_tokens, first_user, forked_from) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
            (
                session, "import" if row["method"] == "IMPORT" else "proxy", row["started_at"], row["started_at"],
                row["model"], row["id"], resume, turns, calls, *tokens, _first_user(conversation),
                parent["episode_id"] if parent else None,
            ),
        ).lastrowid
    db.execute(
        "INSERT OR REPLACE INTO episode_exchanges (exchange_id, episode_id, answer_index, conv_hash, alt_hash, "
        "answer_json, answer_id, alt_ids, prev_exchange_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row["id"], episode, len(conversation) - 1, hashes[-1], alt_hash,
            json.dumps(answer, ensure_ascii=False) if answer else None, canonical.response_id,
            json.dumps(canonical.alt_call_ids) if canonical.alt_call_ids else None, stateful["exchange_id"] if stateful else None,
        ),
    )
    if state != INCOMPLETE:  # a cut-off answer's tool calls may be half-written
        _tool_calls(db, row, answer, canonical.alt_call_ids, answered_at)
    _returned(db, messages, row["started_at"])


def _tool_calls(db: sqlite3.Connection, row: sqlite3.Row, answer: dict[str, Any] | None, alt: dict[str, str], at: float) -> None:
    for idx, call in enumerate((answer or {}).get("tool_calls") or []):
        fn = call.get("function") or {}
        db.execute(
            "INSERT OR REPLACE INTO llm_tool_calls "
            "(exchange_id, idx, tool_call_id, name, arguments, session, answered_at, alt_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row["id"], idx, call.get("id"), fn.get("name") or "", canonical_args(fn.get("arguments")), row["session"], at,
             alt.get(call.get("id") or "")),
        )


def _returned(db: sqlite3.Connection, messages: list[dict[str, Any]], at: float) -> None:
    """Tool results carried back: mark their calls consumed, under the id the client used."""
    for m in messages:
        tool_call_id = m.get("tool_call_id") if m.get("role") == "tool" else None
        if not tool_call_id:
            continue
        for call in db.execute(
            "SELECT exchange_id, idx, tool_call_id FROM llm_tool_calls WHERE alt_id = ? AND answered_at <= ?", (tool_call_id, at)
        ).fetchall():
            # The client sent back the other id set (streamed vs completed): that set is the turn's.
            db.execute(
                "UPDATE llm_tool_calls SET tool_call_id = alt_id, alt_id = tool_call_id "
                "WHERE exchange_id = ? AND idx = ?",
                (call["exchange_id"], call["idx"]),
            )
            db.execute(
                "UPDATE links SET tool_call_id = ? WHERE exchange_id = ? AND tool_call_id = ?",
                (tool_call_id, call["exchange_id"], call["tool_call_id"]),
            )
        db.execute(
            "UPDATE llm_tool_calls SET consumed_at = ? "
            "WHERE tool_call_id = ? AND consumed_at IS NULL AND answered_at <= ?",
            (at, tool_call_id, at),
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
            "SELECT ee.exchange_id, ee.episode_id, e.last_exchange_id, e.resume_from FROM episode_exchanges ee "
            "JOIN episodes e ON e.id = ee.episode_id "
            "WHERE (ee.conv_hash = ? OR ee.alt_hash = ?) AND ee.answer_index = ? "
            + ("AND e.session = ? " if session else "")
            + ORDER
        )
        args: tuple[Any, ...] = (hashes[k], hashes[k], k, session) if session else (hashes[k], hashes[k], k)
        row: sqlite3.Row | None = db.execute(sql, args).fetchone()
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
    final_state: str = COMPLETE  # the last answer's completion state: complete, truncated or incomplete
    final_reason: str | None = None
    dialect: str | None = None

    @property
    def cut_off(self) -> bool:
        """Whether the last answer did not finish (truncated or incomplete): not a turn to train on by default."""
        return self.final_state != COMPLETE and bool(self.messages) and self.messages[-1].get("role") == "assistant"


def conversation(db: sqlite3.Connection, episode_id: int) -> Episode | None:
    """The whole conversation of the episode's last exchange, each assistant message with its own reasoning."""
    ep = db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
    if ep is None:
        return None
    last = db.execute(
        "SELECT id, dialect, completion_state, completion_reason FROM exchanges WHERE id = ?", (ep["last_exchange_id"],)
    ).fetchone()
    history = History(db)
    messages = history.full(last["id"])
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
    ids = [r[0] for r in db.execute("SELECT exchange_id FROM episode_exchanges WHERE episode_id = ? ORDER BY exchange_id", (episode_id,))]
    stats = {k: ep[k] for k in ep.keys() if k not in ("id", "session", "source", "started_at", "model")}
    return Episode(
        ep["id"], ep["session"], ep["source"], ep["started_at"], ep["model"], messages, history.tools(last["id"]), ids, stats,
        last["completion_state"] or COMPLETE, last["completion_reason"], last["dialect"],
    )
