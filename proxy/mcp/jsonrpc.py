"""Just enough JSON-RPC reading to route a message: its kind, id and method, found cheaply."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from recorder.canonical import canonical_json
from recorder.json_members import first_byte, members

_PEEK_LIMIT = 256 * 1024  # larger messages are peeked at by their head, not parsed whole
_HEAD_ID = re.compile(rb'^\s*\{[^{}\[\]]*?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*"|null)')


def id_text(value: Any) -> str:
    """An id as compact JSON text, the form used as a routing key (1 and "1" stay apart)."""
    return canonical_json(value)


@dataclass(slots=True)
class Peek:
    kind: str  # request, notification, response, batch or invalid
    id: str | None = None
    method: str | None = None
    message: Any = None  # the parsed message, when it was small enough to parse

    @property
    def progress_token(self) -> str | None:
        params = self.message.get("params") if isinstance(self.message, dict) else None
        if not isinstance(params, dict):
            return None
        token = params.get("progressToken", (params.get("_meta") or {}).get("progressToken"))
        return None if token is None else id_text(token)


def peek(raw: bytes, whole: bool = False) -> Peek:
    """Never raises. `whole`: read the method of a big message too (a client's request)."""
    if not whole and len(raw) > _PEEK_LIMIT and (head := _HEAD_ID.match(raw[:4096])):
        # A big server answer: its id sits near the start; parsing 10 MB would stall the relay.
        has_method = b'"method"' in raw[:4096]
        return Peek("request" if has_method else "response", head.group(1).decode())
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):  # too deep, a number too long, or not JSON at all
        return _scanned(raw)
    if isinstance(message, list):
        return Peek("batch", message=message)
    if not isinstance(message, dict):
        return Peek("invalid")
    mid = id_text(message["id"]) if "id" in message else None
    if "method" in message:
        return Peek("request" if mid is not None else "notification", mid, message["method"], message)
    return Peek("response" if mid is not None else "invalid", mid, None, message)


def _scanned(raw: bytes) -> Peek:
    """Kind, id and method of a message json.loads refused, from a linear scan of its top level."""
    if first_byte(raw) == b"[":
        return Peek("batch")
    spans = members(raw)
    if spans is None:
        return Peek("invalid")
    mid = raw[slice(*spans["id"])].decode("utf-8", "replace") if "id" in spans else None
    method = None
    if "method" in spans:
        with contextlib.suppress(ValueError, RecursionError):
            found = json.loads(raw[slice(*spans["method"])])
            method = found if isinstance(found, str) else None
    if method is not None:
        return Peek("request" if mid is not None else "notification", mid, method)
    return Peek("response" if mid is not None else "invalid", mid)


# The one place JSON-RPC errors are built: an answer to a known request id, byte-exact, for the
# relays; and an id-less error body for the HTTP answers the proxy gives on its own behalf.
PARSE_ERROR, INVALID_REQUEST, SESSION_NOT_FOUND, SERVER_ERROR = -32700, -32600, -32001, -32000


def error_reply(raw_id: str, message: str, code: int = SERVER_ERROR) -> bytes:
    """A JSON-RPC error for a request id given as JSON text, kept byte-exact."""
    error = json.dumps({"code": code, "message": message}).encode()
    return b'{"jsonrpc":"2.0","id":' + raw_id.encode() + b',"error":' + error + b"}"


def error_body(message: str, code: int = SERVER_ERROR, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON-RPC error with a null id, for an HTTP answer (send it with `send_json`)."""
    error: dict[str, Any] = {"code": code, "message": message, **({"data": data} if data else {})}
    return {"jsonrpc": "2.0", "id": None, "error": error}
