"""The links table kept up to date: each new MCP tools/call matched to its LLM tool call
(rules in recorder/episodes/links.py), and the links read back for an episode."""

from __future__ import annotations

import json
from typing import Any

from recorder.episodes.links import GRACE, Candidate, called_tool, choose, llm_names
from recorder.store import cursors, dbapi
from recorder.store.dbapi import Connection


def update(db: Connection) -> int:
    """Link every tools/call recorded since the last call; returns how many were looked at.

    Safe with several readers at once, on either backend: the cursor is read and moved under its
    lock, up to a frontier no message still being written can fall below (see `dbapi.frontier`).
    """
    if (db.execute("SELECT max(id) FROM mcp_messages").fetchone()[0] or 0) <= cursors.get(db, "links"):
        return 0  # nothing new: no write, no lock
    last = dbapi.frontier(db, "mcp_messages")  # first: rows still being written wait for the next refresh
    with dbapi.transaction(db):
        dbapi.lock_cursor(db, "links")
        cursor = cursors.get(db, "links")  # under the lock: another reader may have moved it
        calls = db.execute(
            "SELECT id, uid, at, server, session, connection, body FROM mcp_messages "
            "WHERE id > ? AND id <= ? AND kind = 'request' AND method = 'tools/call' AND direction = 'c2s' ORDER BY id",
            (cursor, last),
        ).fetchall()
        for call in calls:
            _link(db, call)
        cursors.put(db, "links", max(last, cursor))
    return len(calls)


def _link(db: Connection, call: Any) -> None:
    called = called_tool(call["body"])
    if called is None:
        return
    names = llm_names(call["server"], called[0])
    rows = db.execute(
        "SELECT t.exchange_id, t.idx, t.tool_call_id, t.session, t.answered_at, "
        "(SELECT count(*) FROM links l WHERE l.exchange_id = t.exchange_id AND l.tool_call_id = t.tool_call_id) "
        f"FROM llm_tool_calls t WHERE t.name IN ({','.join('?' * len(names))}) AND t.arguments = ? "
        "AND t.answered_at <= ? + ? AND (t.consumed_at IS NULL OR t.consumed_at + ? >= ?) "
        "ORDER BY t.answered_at DESC, t.idx",
        (*names, called[1], call["at"], GRACE, GRACE, call["at"]),
    ).fetchall()
    candidates = [Candidate(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]
    chosen = choose(call["session"], call["connection"], candidates)
    if chosen is not None:
        db.execute(
            "INSERT INTO links VALUES (?, ?, ?, ?, ?) ON CONFLICT (mcp_uid) DO UPDATE SET exchange_id = "
            "excluded.exchange_id, tool_call_id = excluded.tool_call_id, method = excluded.method, "
            "confidence = excluded.confidence",
            (
                call["uid"],
                chosen.candidate.exchange_id,
                chosen.candidate.tool_call_id,
                chosen.method,
                chosen.confidence,
            ),
        )


def links_for(db: Connection, exchange_ids: list[int]) -> dict[str, dict[str, Any]]:
    """tool_call_id -> the linked MCP call: server, latency, the full result, how it was matched."""
    if not exchange_ids:
        return {}
    marks = ",".join("?" * len(exchange_ids))
    rows = db.execute(
        f"SELECT l.tool_call_id, l.method, l.confidence, c.server, c.latency_ms, c.response, c.is_error, c.at "
        f"FROM links l JOIN mcp_calls c ON c.uid = l.mcp_uid WHERE l.exchange_id IN ({marks}) ORDER BY c.at",
        exchange_ids,
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        response = json.loads(r["response"]) if r["response"] else None
        entry = {
            "server": r["server"],
            "latency_ms": r["latency_ms"],
            "method": r["method"],
            "confidence": r["confidence"],
            "is_error": bool(r["is_error"]),
            "result": (response or {}).get("result", (response or {}).get("error")),
        }
        if r["method"] == "retry" and r["tool_call_id"] in out:
            out[r["tool_call_id"]].setdefault("retries", []).append(entry)
        else:
            out[r["tool_call_id"]] = entry
    return out
