"""Streamable HTTP for upstreams that are not HTTP (a stdio child, a legacy SSE server).

The proxy plays the HTTP server here: `initialize` opens a session with its own upstream
connection and an Mcp-Session-Id; each POST that carries a request answers as an SSE stream that
ends with the response; GET holds the standalone stream; DELETE ends the session. Requests
without a session (the stateless 2026-07-28 protocol) share one upstream connection per session
key, with ids rewritten on the way up and restored, byte-exact, on the way down.

Bounded: every session and shared channel takes a slot of the server's `max_sessions` before its
upstream starts; a periodic sweep closes those idle for `idle_seconds` (no request, no open stream).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from proxy.asgi import Receive, Scope, Send, header, read_body, send_json
from proxy.config import MCPServerConfig
from proxy.mcp.best_effort import best_effort
from proxy.mcp.bridge import Bridge
from proxy.mcp.inbound.http_session import HttpSession
from proxy.mcp.inbound.limits import CapReached, SessionCap
from proxy.mcp.inbound.sse_stream import pump, start_sse
from proxy.mcp.jsonrpc import INVALID_REQUEST, PARSE_ERROR, SERVER_ERROR, SESSION_NOT_FOUND, Peek, error_body, peek
from proxy.mcp.outbound import Channel, ChannelError
from recorder import Recorder
from recorder.json_members import members


class HttpSessions:
    """Streamable HTTP in front of a channel factory: one channel per session."""

    def __init__(
        self, server: MCPServerConfig, make_channel: Callable[[], Channel], recorder: Recorder, cap: SessionCap
    ) -> None:
        self.name = server.name
        self.idle_seconds = server.idle_seconds
        self.backlog_bytes = server.backlog_bytes
        self.make_channel = make_channel
        self.recorder = recorder
        self.cap = cap
        self.sessions: dict[str, HttpSession] = {}
        self._stateless: dict[str | None, HttpSession] = {}  # one shared connection per session key
        self._lock = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None

    def start_sweeping(self) -> None:
        """Close idle sessions every few seconds (a quarter of idle_seconds, at most a minute)."""
        self._sweeper = asyncio.create_task(self._sweep_forever(min(max(self.idle_seconds / 4, 0.05), 60.0)))

    async def _sweep_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            with best_effort(f"sweeping idle sessions of {self.name}"):
                await self.sweep()

    async def sweep(self) -> None:
        now = time.monotonic()
        for session in [*self.sessions.values(), *self._stateless.values()]:
            if session.idle(now, self.idle_seconds):
                await self._end(session)

    async def _open(self, sid: str, session_key: str | None, stateless: bool = False) -> HttpSession:
        """A new session with its own upstream, once it has a slot under the cap (else CapReached)."""
        try:
            self.cap.take()
        except CapReached:
            await self.sweep()  # idle ones may make room
            self.cap.take()
        session = HttpSession(sid, stateless, self.backlog_bytes)
        session.bridge = Bridge(
            self.make_channel(),
            server=self.name,
            inbound="http",
            connection=sid,
            session=session_key or sid,
            recorder=self.recorder,
            deliver=session.route,
        )
        try:
            await session.bridge.start()
        except BaseException:
            self.cap.give_back()
            raise
        return session

    async def _end(self, session: HttpSession) -> None:
        if session.closed:
            return
        session.closed = True
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        for session_key, shared in list(self._stateless.items()):
            if shared is session:
                del self._stateless[session_key]
        self.cap.give_back()
        if session.bridge is not None:
            with best_effort(f"closing session {session.id} of {self.name}"):
                await session.bridge.close()

    async def _shared(self, session_key: str | None) -> HttpSession:
        async with self._lock:
            shared = self._stateless.get(session_key)
            if shared is not None and shared.bridge is not None and shared.bridge.done.is_set():
                await self._end(shared)  # its upstream went away: start over
                shared = None
            if shared is None:
                label = f"stateless-{self.name}" + (f"-{session_key}" if session_key else "")
                shared = self._stateless[session_key] = await self._open(label, session_key, stateless=True)
            return shared

    async def handle(self, scope: Scope, receive: Receive, send: Send, session_key: str | None) -> None:
        method = scope["method"]
        sid_raw = header(scope["headers"], b"mcp-session-id")
        sid = sid_raw.decode("latin-1") if sid_raw else None
        session = self.sessions.get(sid) if sid else None
        if sid and session is None:
            await send_json(
                send,
                404,
                error_body(f"tracemill: session {sid} not found (it ended); initialize again", SESSION_NOT_FOUND),
            )
            return
        try:
            if method == "POST":
                await self._post(scope, receive, send, session_key, session)
            elif method == "GET":
                await self._get(scope, receive, send, session)
            elif method == "DELETE":
                if session is not None:
                    await self._end(session)
                await send_json(
                    send,
                    200 if session else 400,
                    {} if session else error_body("Mcp-Session-Id required", INVALID_REQUEST),
                )
            else:
                await send_json(
                    send,
                    405,
                    error_body(f"{method} is not allowed here", INVALID_REQUEST),
                    [(b"allow", b"GET, POST, DELETE")],
                )
        except ChannelError as exc:
            await send_json(send, 502, error_body(f"tracemill: {exc}", SERVER_ERROR))

    async def _post(
        self, scope: Scope, receive: Receive, send: Send, session_key: str | None, session: HttpSession | None
    ) -> None:
        body = await read_body(receive)
        p = peek(body, whole=True)  # never raises: deep or huge-number messages are scanned, not parsed
        if p.kind == "batch":
            await send_json(send, 400, error_body(_NO_BATCH, INVALID_REQUEST))
            return
        if p.kind == "invalid":
            await send_json(send, 400, error_body("Parse error: the body is not a JSON-RPC message", PARSE_ERROR))
            return
        new_sid = None
        try:
            if session is None and p.kind == "request" and p.method == "initialize":
                new_sid = uuid.uuid4().hex
                session = self.sessions[new_sid] = await self._open(new_sid, session_key)
            elif session is None:
                session = await self._shared(session_key)
        except CapReached as exc:
            limits = {"setting": exc.setting, "limit": exc.limit}
            await _send_error(send, 503, error_body(str(exc), SERVER_ERROR, limits), p.id)
            return
        assert session.bridge is not None
        session.last_used = time.monotonic()
        if p.kind != "request" or p.id is None:
            await session.bridge.from_client(body)
            await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self._answer(session, p, body, new_sid, send, receive)

    async def _answer(
        self, session: HttpSession, p: Peek, body: bytes, new_sid: str | None, send: Send, receive: Receive
    ) -> None:
        """A request's answer as an SSE stream: its progress notifications, then its response."""
        assert session.bridge is not None and p.id is not None
        stream = session.stream()
        rid, upstream_body = p.id, None
        if session.stateless:  # only the upstream sees the rewritten id; the bytes around it stay
            rid = session.upstream_id(rid)
            start, end = (members(body, want=("id",)) or {})["id"]
            upstream_body = body[:start] + rid.encode() + body[end:]
        stream.waiting.add(rid)
        session.by_id[rid] = stream
        if (token := p.progress_token) is not None:
            session.by_token[token] = stream
        session.posts.append(stream)
        await start_sse(send, [(b"mcp-session-id", new_sid.encode())] if new_sid else [])
        try:
            await session.bridge.from_client(body, upstream_body)
            await pump(stream, send, receive)
        finally:
            session.last_used = time.monotonic()
            session.posts.remove(stream)
            for token in [t for t, s in session.by_token.items() if s is stream]:
                del session.by_token[token]

    async def _get(self, scope: Scope, receive: Receive, send: Send, session: HttpSession | None) -> None:
        if session is None:
            await send_json(
                send, 405, error_body("GET needs an Mcp-Session-Id", INVALID_REQUEST), [(b"allow", b"POST")]
            )
            return
        last = header(scope["headers"], b"last-event-id")
        stream = session.open_get(last.decode("latin-1") if last is not None else None)
        await start_sse(send)
        try:
            await pump(stream, send, receive)
        finally:
            session.last_used = time.monotonic()
            if session.get is stream:
                session.get = None

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for session in [*self.sessions.values(), *self._stateless.values()]:
            await self._end(session)


_NO_BATCH = (
    "tracemill: JSON-RPC batches are not accepted here (MCP dropped them in protocol 2025-06-18); "
    "send one message per POST"
)


async def _send_error(send: Send, status: int, payload: dict[str, Any], raw_id: str | None) -> None:
    """A JSON-RPC error answering the request whose id is `raw_id` (JSON text, kept byte-exact)."""
    body = json.dumps(payload).encode()
    if raw_id is not None:
        body = body.replace(b'"id": null', b'"id": ' + raw_id.encode(), 1)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
