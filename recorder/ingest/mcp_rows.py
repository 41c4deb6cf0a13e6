"""MCP messages to rows: classify, pair responses with requests, dedupe tool schemas.

Pairing needs memory across events (a response names only an id), so it lives in `Pairing`,
which the single writer owns: one per process, and each process sees both directions of its own
sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from recorder.canonical import canonical_json
from recorder.events import MCPMessage, new_uid
from recorder.ingest import Row
from recorder.ingest.redact import Redactor
from recorder.json_members import first_byte, members
from recorder.sse import SSEParser

_BINARY_TYPES = ("image", "audio")
log = logging.getLogger("tracemill.recorder")
_LOGGED: set[tuple[str, str]] = set()  # (server, reason) already logged


def tool_hash(definition: Any) -> str:
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def classify(message: Any) -> str:
    if not isinstance(message, dict):
        return "invalid"
    if "method" in message:
        return "request" if "id" in message else "notification"
    if "error" in message:
        return "error"
    if "result" in message:
        return "response"
    return "invalid"


@dataclass
class Pairing:
    """Requests still waiting for an answer: (server, session, id, direction) -> (uid, at, method)."""

    pending: dict[tuple[Any, ...], tuple[str, float, str]] = field(default_factory=dict)
    limit: int = 100_000
    # SSE answers being split in the writer: stream id -> (parser, next part's seq); mcp_streams.py
    streams: OrderedDict[str, tuple[SSEParser, int]] = field(default_factory=OrderedDict)

    def open(self, key: tuple[Any, ...], uid: str, at: float, method: str) -> None:
        if len(self.pending) >= self.limit:
            self.pending.pop(next(iter(self.pending)))  # forget the oldest unanswered request
        self.pending[key] = (uid, at, method)

    def close(self, key: tuple[Any, ...]) -> tuple[str, float, str] | None:
        return self.pending.pop(key, None)


def _strip_binary(result: Any) -> Any:
    """Images and audio become metadata plus size: the bytes are no use for text training. The
    result itself when there is nothing to strip (so its text is stored as sent, not re-serialised)."""
    if not isinstance(result, dict) or not isinstance(result.get("content"), list):
        return result
    if not any(isinstance(i, dict) and i.get("type") in _BINARY_TYPES for i in result["content"]):
        return result
    content = []
    for item in result["content"]:
        if isinstance(item, dict) and item.get("type") in _BINARY_TYPES and isinstance(item.get("data"), str):
            data = item["data"]
            item = {k: v for k, v in item.items() if k != "data"}
            item["_tracemill"] = {"omitted": "data", "base64_chars": len(data), "bytes": len(data) * 3 // 4}
        content.append(item)
    return {**result, "content": content}


def _unparsed(ev: MCPMessage, exc: Exception) -> tuple[str, str | None, str | None, str]:
    """(kind, method, rpc_id, note) of a message json.loads refused, from a scan of its top level;
    logged once per server and reason."""
    if isinstance(exc, RecursionError):
        reason = "nested too deep to parse"
    elif "integer string conversion" in str(exc):
        reason = "holds a number too long to parse"
    else:
        reason = f"not JSON ({exc})"
    note = f"stored raw, not parsed: {reason}"
    if (ev.server, reason[:20]) not in _LOGGED:
        _LOGGED.add((ev.server, reason[:20]))
        log.warning(
            "MCP server %r: a message %s; it was relayed as sent and stored raw, with a note", ev.server, reason
        )
    spans = members(ev.body)
    if spans is None:
        return ("batch" if first_byte(ev.body) == b"[" else "invalid"), None, None, note
    rpc_id = ev.body[slice(*spans["id"])].decode("utf-8", "replace") if "id" in spans else None
    method = None
    if "method" in spans:
        with contextlib.suppress(ValueError, RecursionError):
            found = json.loads(ev.body[slice(*spans["method"])])
            method = found if isinstance(found, str) else None
    if method is not None:
        return ("request" if rpc_id is not None else "notification"), method, rpc_id, note
    kind = "error" if "error" in spans else "response" if "result" in spans else "invalid"
    return (kind if rpc_id is not None else "invalid"), None, rpc_id, note


@dataclass
class _Paired:
    """What pairing a message with its request tells: the answer's request, latency and error flag."""

    method: str | None
    body: Any  # the message to store (a tools/call result without its image bytes)
    reply_to: str | None = None
    latency: float | None = None
    is_error: int | None = None
    tools: list[Row] = field(default_factory=list)  # tool schemas from a tools/list answer


def mcp_rows(ev: MCPMessage, redactor: Redactor, pairing: Pairing) -> list[Row]:
    text = ev.body.decode("utf-8", "replace")
    scanned = None
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as exc:  # kept whole, as text, with a note saying why
        parsed = None
        items: list[Any] = [None]
        scanned = _unparsed(ev, exc)
    else:
        items = parsed if isinstance(parsed, list) else [parsed]
    rows: list[Row] = []
    for n, message in enumerate(items):
        uid = ev.uid if n == 0 else new_uid()
        if scanned is not None:
            kind, method, rpc_id = scanned[:3]
        else:
            kind = classify(message)
            method = message.get("method") if isinstance(message, dict) else None
            rpc_id = canonical_json(message["id"]) if isinstance(message, dict) and "id" in message else None
        paired = _pair(ev, pairing, uid, kind, method, rpc_id, message)
        rows.extend(paired.tools)
        whole = paired.body is parsed and n == 0 and len(items) == 1  # stored as sent, not re-serialised
        body = text if whole or paired.body is None else canonical_json(paired.body)
        row = {
            "uid": uid,
            "at": ev.at,
            "server": ev.server,
            "session": ev.session,
            "connection": ev.connection,
            "direction": ev.direction,
            "transport": ev.inbound,
            "kind": kind,
            "method": paired.method,
            "rpc_id": rpc_id,
            "body": redactor.text(body, ev.secrets),
            "size": len(ev.body) if len(items) == 1 else len(canonical_json(message)),
            "reply_to": paired.reply_to,
            "latency_ms": paired.latency,
            "is_error": paired.is_error,
            "note": scanned[3] if scanned is not None else None,
        }
        rows.append(("mcp_messages", row))
    return rows


def _pair(
    ev: MCPMessage, pairing: Pairing, uid: str, kind: str, method: str | None, rpc_id: str | None, message: Any
) -> _Paired:
    """Open a request's pairing, or close it with its answer: latency, the method answered, errors."""
    out = _Paired(method, message)
    if kind == "request":
        pairing.open((ev.server, ev.connection or ev.session, rpc_id, ev.direction), uid, ev.at, method or "")
        return out
    if kind not in ("response", "error") or rpc_id is None:
        return out
    other = "c2s" if ev.direction == "s2c" else "s2c"
    opened = pairing.close((ev.server, ev.connection or ev.session, rpc_id, other))
    if opened is None:
        return out
    out.reply_to, out.method = opened[0], opened[2] or None
    out.latency = (ev.at - opened[1]) * 1000
    if kind == "error":
        out.is_error = 1
    elif message is not None and out.method == "tools/call":  # an unparsed answer is paired, but not read
        stripped = _strip_binary(message.get("result"))
        if stripped is not message.get("result"):
            out.body = {**message, "result": stripped}
        out.is_error = int(bool((message.get("result") or {}).get("isError")))
    if out.method == "tools/list" and kind == "response" and message is not None:
        out.tools = _tool_rows(ev, message.get("result") or {})
    return out


def _tool_rows(ev: MCPMessage, result: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for tool in result.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        digest = tool_hash(tool)
        rows.append(
            (
                "tools",
                {"hash": digest, "name": tool.get("name", ""), "definition": canonical_json(tool), "first_seen": ev.at},
            )
        )
        rows.append(("server_tools", {"server": ev.server, "hash": digest, "first_seen": ev.at}))
    return rows
