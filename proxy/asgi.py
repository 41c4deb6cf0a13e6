"""Small raw-ASGI helpers shared by the relays: header filtering, body reading, JSON replies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

# RFC 9110 7.6.1 hop-by-hop headers, plus the framing ones the next hop recomputes.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
NOT_UPSTREAM = HOP_BY_HOP | {b"host", b"content-length", b"x-tracemill-session"}


def upstream_headers(headers: Iterable[tuple[bytes, bytes]], drop: frozenset[bytes] = NOT_UPSTREAM) -> RawHeaders:
    return [(k, v) for k, v in headers if k.lower() not in drop]


def downstream_headers(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    return [(k.lower(), v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for k, v in headers:
        if k == name:
            return v
    return None


class BodyTooLarge(Exception):
    """The request body crossed [server] max_request_bytes while being read."""


def limit_body(receive: Receive, limit: int) -> Receive:
    """A receive that raises BodyTooLarge the moment the body read so far passes `limit` bytes."""
    seen = 0

    async def limited() -> dict[str, Any]:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLarge(limit)
        return message

    return limited


async def read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def send_json(send: Send, status: int, payload: Any, headers: RawHeaders | None = None) -> bytes:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return body


def error_body(status: int, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """An OpenAI-style error object, so SDKs surface our message verbatim."""
    return {"error": {"message": message, "type": kind, "code": status, **extra}}


async def wait_disconnect(receive: Receive) -> None:
    """Return when the client goes away (after its body was read, `receive` has nothing else to say)."""
    while (await receive())["type"] != "http.disconnect":
        pass
