"""Linking each MCP tools/call to the LLM tool call that asked for it.

Explicit session keys first; otherwise the tool name (allowing `mcp__server__tool`,
`server_tool` and similar prefixes) plus the canonical JSON arguments, inside the window between
the LLM answer and the next request that carries that tool_call_id back. Parallel identical calls
pair off in order; a second MCP call for an already linked tool call is recorded as a retry.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from recorder.episodes.chain import get_cursor, set_cursor
from recorder.episodes.normalize import canonical_args
from recorder.store.sqlite import transaction

GRACE = 2.0  # seconds of clock skew allowed between the LLM answer and the MCP call


def llm_names(server: str, tool: str) -> list[str]:
    """The names an agent may have given this MCP tool."""
    names = [tool]
    for sep in ("__", "_", ".", "-", "/"):
        names.append(f"{server}{sep}{tool}")
    names.append(f"mcp__{server}__{tool}")
    return names


def update(db: sqlite3.Connection) -> int:
    """Link every tools/call recorded since the last call; returns how many were looked at."""
    cursor = get_cursor(db, "links")
    last = db.execute("SELECT max(id) FROM mcp_messages").fetchone()[0] or 0  # first: rows written later wait
    if last <= cursor:
        return 0  # nothing new: no write, no lock
    calls = db.execute(
        "SELECT id, uid, at, server, session, connection, body FROM mcp_messages "
        "WHERE id > ? AND id <= ? AND kind = 'request' AND method = 'tools/call' AND direction = 'c2s' ORDER BY id",
        (cursor, last),
    ).fetchall()
    with transaction(db):
        for call in calls:
            _link(db, call)
        set_cursor(db, "links", last)
    return len(calls)


def _link(db: sqlite3.Connection, call: sqlite3.Row) -> None:
    try:
        params = json.loads(call["body"]).get("params") or {}
    except (ValueError, AttributeError):
        return
    tool, args = params.get("name"), canonical_args(params.get("arguments") or {})
    if not isinstance(tool, str):
        return
    names = llm_names(call["server"], tool)
    candidates = db.execute(
        f"SELECT t.*, (SELECT count(*) FROM links l WHERE l.exchange_id = t.exchange_id AND l.tool_call_id = t.tool_call_id) AS linked "
        f"FROM llm_tool_calls t WHERE t.name IN ({','.join('?' * len(names))}) AND t.arguments = ? "
        "AND t.answered_at <= ? + ? AND (t.consumed_at IS NULL OR t.consumed_at + ? >= ?) ORDER BY t.answered_at DESC, t.idx",
        (*names, args, call["at"], GRACE, GRACE, call["at"]),
    ).fetchall()
    explicit = call["session"] if call["session"] and call["session"] != call["connection"] else None
    keyed = [c for c in candidates if explicit and c["session"] == explicit]
    pool, method, confidence = (keyed, "session+args", 1.0) if keyed else (candidates, "args+window", 0.9)
    if not pool:
        return
    newest = max(c["answered_at"] for c in pool)
    pool = sorted((c for c in pool if c["answered_at"] == newest), key=lambda c: c["idx"])  # the latest answer only
    free = [c for c in pool if not c["linked"]]
    if free:
        chosen = free[0]
        if len(pool) > 1:
            method, confidence = ("order", 0.7) if method == "args+window" else (method, 0.95)
    else:
        chosen, method, confidence = pool[-1], "retry", 0.6
    db.execute(
        "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?)",
        (call["uid"], chosen["exchange_id"], chosen["tool_call_id"], method, confidence),
    )


def links_for(db: sqlite3.Connection, exchange_ids: list[int]) -> dict[str, dict[str, Any]]:
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
            "server": r["server"], "latency_ms": r["latency_ms"], "method": r["method"], "confidence": r["confidence"],
            "is_error": bool(r["is_error"]), "result": (response or {}).get("result", (response or {}).get("error")),
        }
        if r["method"] == "retry" and r["tool_call_id"] in out:
            out[r["tool_call_id"]].setdefault("retries", []).append(entry)
        else:
            out[r["tool_call_id"]] = entry
    return out
