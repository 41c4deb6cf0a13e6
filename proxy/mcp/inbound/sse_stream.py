"""The SSE answers the MCP ways in write: event framing, and one open stream whose pending events
are bounded in bytes (a client that stops reading cannot make the proxy hold everything)."""

from __future__ import annotations

import asyncio
import re

from proxy.asgi import Receive, Send, wait_disconnect
from proxy.mcp.inbound.limits import Backlog

STREAM_BYTES = 4 * 1024 * 1024  # pending notifications per open stream; answers are always kept
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def sse_event(data: bytes, event_id: str | None = None, event: str = "message") -> bytes:
    """One SSE event, safe by construction: a line break inside `data` becomes another `data:`
    line (the client joins them back with LF), and one in the name or id cannot start a field."""
    for field in (event, event_id or ""):
        if "\r" in field or "\n" in field:
            raise ValueError(f"an SSE event name or id cannot hold a line break: {field!r}")
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    if b"\r" in data or b"\n" in data:
        data = _LINE_BREAK.sub(b"\ndata: ", data)
    return head.encode() + b"data: " + data + b"\n\n"


async def start_sse(send: Send, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), *(extra or [])]
    await send({"type": "http.response.start", "status": 200, "headers": headers})


END = None  # closes an SseStream


class SseStream:
    """One open SSE answer: events (id, data) wait here until END or the client leaves."""

    def __init__(self, limit_bytes: int = STREAM_BYTES, what: str = "an MCP SSE stream") -> None:
        self.pending: Backlog[tuple[str | None, bytes] | None] = Backlog(limit_bytes, what)
        self.ready = asyncio.Event()
        self.waiting: set[str] = set()  # request ids whose answers still have to come through

    def put(self, event_id: str | None, raw: bytes, droppable: bool = True) -> None:
        """Queue one event; `droppable=False` for an answer the client waits for."""
        self.pending.append((event_id, raw), len(raw), droppable)
        self.ready.set()

    def end(self) -> None:
        self.pending.append(END, 0, droppable=False)
        self.ready.set()


async def pump(stream: SseStream, send: Send, receive: Receive) -> None:
    """Write a stream's events until it ends or the client leaves."""
    gone = asyncio.create_task(wait_disconnect(receive))
    try:
        while not gone.done():
            if not stream.pending:
                stream.ready.clear()
                waiter = asyncio.create_task(stream.ready.wait())
                await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                continue
            got = stream.pending.popleft()
            if got is END:
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.body", "body": sse_event(got[1], got[0]), "more_body": True})
    finally:
        gone.cancel()
