"""Exchanges and MCP calls as recorded: the SQL behind `TraceReader`'s plain reads, returning dicts."""

from __future__ import annotations

import json
from typing import Any

from recorder.dialects import by_name
from recorder.dialects.base import Canonical
from recorder.store.dbapi import Connection


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def canonical_of(row: Any) -> Canonical | None:
    """The exchange in canonical chat form, by its dialect; None for raw paths and unreadable bodies."""
    dialect = by_name(row["dialect"])
    if dialect is None:
        return None
    try:
        request, response = _loads(row["request_json"]), _loads(row["response_json"])
        return dialect.canonical(
            request if isinstance(request, dict) else {}, response if isinstance(response, dict) else None
        )
    except ValueError:  # DialectError included
        return None


def _one_line(message: dict[str, Any] | None) -> str:
    message = message or {}
    calls = message.get("tool_calls") or []
    if calls:
        return "→ " + ", ".join(
            f"{(c.get('function') or {}).get('name')}({str((c.get('function') or {}).get('arguments'))[:40]})"
            for c in calls
        )
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(p.get("text", f"[{p.get('type')}]")) for p in content if isinstance(p, dict))
    return str(content or "").replace("\n", " ")


def exchange_summary(row: Any) -> dict[str, Any]:
    """The one-line view of an exchange: what `tracemill exchanges` lists."""
    canonical = canonical_of(row)
    answer = _one_line(canonical.answer if canonical else None) or row["error"] or ""
    return {
        "id": row["id"],
        "started_at": row["started_at"],
        "session": row["session"],
        "path": row["path"],
        "dialect": row["dialect"],
        "model": row["model"],
        "status": row["status"],
        "stream": bool(row["stream"]),
        "duration_ms": row["duration_ms"],
        "ttfb_ms": row["ttfb_ms"],
        "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
        "incomplete": bool(row["incomplete"]),
        "completion_state": row["completion_state"],
        "completion_reason": row["completion_reason"],
        "error": row["error"],
        "summary": answer[:160],
    }


def list_exchanges(db: Connection, limit: int = 50, session: str | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM exchanges" + (" WHERE session = ?" if session else "") + " ORDER BY id DESC LIMIT ?"
    args: tuple[Any, ...] = (session, limit) if session else (limit,)
    return [exchange_summary(r) for r in db.execute(sql, args)]


def get_exchange(db: Connection, exchange_id: int) -> dict[str, Any] | None:
    row = db.execute("SELECT * FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    for key in ("request_json", "response_json", "request_headers", "response_headers"):
        try:
            out[key] = _loads(row[key])
        except ValueError:
            pass
    for key in ("request_raw", "response_raw"):
        if isinstance(out[key], bytes):
            out[key] = out[key].decode("utf-8", "replace")
    canonical = canonical_of(row)
    out["canonical"] = (
        None
        if canonical is None
        else {"messages": canonical.messages, "tools": canonical.tools or [], "answer": canonical.answer}
    )
    return out


def result_summary(response: dict[str, Any] | None) -> str | None:
    """One line for a tools/call answer: its text, or the error."""
    if not response:
        return None
    if "error" in response:
        return f"error {response['error'].get('code')}: {response['error'].get('message')}"
    result = response.get("result") or {}
    parts = []
    for item in result.get("content") or []:
        if item.get("type") == "text":
            parts.append(item.get("text", ""))
        else:
            size = (item.get("_tracemill") or {}).get("bytes")
            mime = f" {item['mimeType']}" if item.get("mimeType") else ""
            parts.append(f"[{item.get('type')}{mime}{f' {size} bytes' if size else ''}]")
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"]))
    return " ".join(parts).replace("\n", " ")[:300]


def list_mcp_calls(
    db: Connection, *, server: str | None = None, session: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    where, args = [], []
    if server:
        where.append("server = ?")
        args.append(server)
    if session:
        where.append("session = ?")
        args.append(session)
    sql = "SELECT * FROM mcp_calls" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
    out = []
    for row in db.execute(sql, (*args, limit)):
        response = _loads(row["response"]) if row["response"] else None
        out.append(
            {
                "id": row["id"],
                "at": row["at"],
                "server": row["server"],
                "session": row["session"],
                "transport": row["transport"],
                "tool": row["tool"],
                "arguments": _loads(row["arguments"]) if row["arguments"] else {},
                "is_error": bool(row["is_error"]),
                "latency_ms": row["latency_ms"],
                "summary": result_summary(response),
            }
        )
    return out
