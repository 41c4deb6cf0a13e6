"""Streamable HTTP for upstreams that are not HTTP (a stdio child, a legacy SSE server).

The proxy plays the HTTP server here: `initialize` opens a session with its own upstream
connection and an Mcp-Session-Id; each POST that carries requests answers as an SSE stream that
ends with the last response; GET holds the standalone stream; DELETE ends the session. Requests
without a session (the stateless 2026-07-28 protocol) share one upstream connection per server,
with ids rewritten on the way up and restored, byte-exact, on the way down (one shared
connection per session key, so each key's messages stay apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from proxy.asgi import Receive, Scope, Send, header, read_body, send_json
from proxy.mcp.bridge import Bridge
from proxy.mcp.inbound.http_relay import END, SseStream, pump, start_sse
from proxy.mcp.jsonrpc import id_text, peek
from proxy.mcp.outbound import Channel, ChannelError
from recorder import Recorder
from recorder.json_members import members


class HttpSession:
    def __init__(self, sid: str, stateless: bool = False) -> None:
        self.id = sid
        self.stateless = stateless
        self.bridge: Bridge | None = None
        self.posts: list[SseStream] = []
        self.by_id: dict[str, SseStream] = {}
        self.by_token: dict[str, SseStream] = {}
        self.get: SseStream | None = None
        self.backlog: list[tuple[str, bytes]] = []
        self.log: deque[tuple[str, bytes]] = deque(maxlen=1000)  # for Last-Event-ID
        self.original_ids: dict[str, str] = {}  # upstream id -> the client's id (stateless only)
        self.last_used = time.monotonic()
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)

    def upstream_id(self, original: str) -> str:
        new = id_text(f"tracemill-{next(self._ids)}")
        self.original_ids[new] = original
        return new

    async def route(self, raw: bytes) -> bytes | None:
        """Send one server message down the right stream; return it as delivered."""
        p = peek(raw)
        target: SseStream | None = None
        delivered = None
        if p.kind == "response" and p.id is not None:
            target = self.by_id.pop(p.id, None)
            if target is not None:
                target.waiting.discard(p.id)
            if p.id in self.original_ids:
                raw = delivered = _restore_id(raw, p.id, self.original_ids.pop(p.id))
        elif p.kind == "notification" and (token := p.progress_token):
            target = self.by_token.get(token)
        if target is None:
            target = self.posts[-1] if self.posts else self.get
        event_id = f"{self.id[:12]}-{next(self._seq)}"
        self.log.append((event_id, raw))
        if target is None:
            self.backlog.append((event_id, raw))
        else:
            target.queue.put_nowait((event_id, raw))
            if target is not self.get and p.kind == "response" and not target.waiting:
                target.queue.put_nowait(END)
        return delivered


def _restore_id(raw: bytes, upstream: str, original: str) -> bytes:
    """Put the client's id back in place of ours; every other byte, spacing included, stays."""
    pattern = re.compile(rb'("id"\s*:\s*)' + re.escape(upstream.encode()))
    return pattern.sub(lambda m: m.group(1) + original.encode(), raw, count=1)


class HttpBridge:
    """Streamable HTTP in front of a channel factory: one channel per session. Sessions idle for
    `idle_timeout` seconds (no request, no open stream) are closed when a new one opens, so
    clients that never send DELETE do not leave server processes behind."""

    idle_timeout = 3600.0

    def __init__(self, name: str, make_channel: Callable[[], Channel], recorder: Recorder) -> None:
        self.name = name
        self.make_channel = make_channel
        self.recorder = recorder
        self.sessions: dict[str, HttpSession] = {}
        self._stateless: dict[str | None, HttpSession] = {}  # one shared connection per session key
        self._lock = asyncio.Lock()

    async def _open(self, sid: str, key: str | None, stateless: bool = False) -> HttpSession:
        session = HttpSession(sid, stateless)
        session.bridge = Bridge(
            self.make_channel(), server=self.name, transport="http", connection=sid,
            session=key or sid, recorder=self.recorder, deliver=session.route,
        )
        await session.bridge.start()
        return session

    async def _shared(self, key: str | None) -> HttpSession:
        async with self._lock:
            shared = self._stateless.get(key)
            if shared is None or shared.bridge is None or shared.bridge.done.is_set():
                label = f"stateless-{self.name}" + (f"-{key}" if key else "")
                shared = self._stateless[key] = await self._open(label, key, stateless=True)
            return shared

    async def handle(self, scope: Scope, receive: Receive, send: Send, key: str | None) -> None:
        method = scope["method"]
        sid_raw = header(scope["headers"], b"mcp-session-id")
        sid = sid_raw.decode("latin-1") if sid_raw else None
        session = self.sessions.get(sid) if sid else None
        if sid and session is None:
            await send_json(send, 404, _rpc_error(-32001, f"tracemill: session {sid} not found (it ended); initialize again"))
            return
        try:
            if method == "POST":
                await self._post(scope, receive, send, key, session)
            elif method == "GET":
                await self._get(scope, receive, send, session)
            elif method == "DELETE":
                if session is not None:
                    self.sessions.pop(session.id, None)
                    assert session.bridge is not None
                    await session.bridge.close()
                await send_json(send, 200 if session else 400, {} if session else _rpc_error(-32600, "Mcp-Session-Id required"))
            else:
                await send_json(send, 405, _rpc_error(-32600, f"{method} is not allowed here"), [(b"allow", b"GET, POST, DELETE")])
        except ChannelError as exc:
            await send_json(send, 502, _rpc_error(-32000, f"tracemill: {exc}"))

    async def _post(self, scope: Scope, receive: Receive, send: Send, key: str | None, session: HttpSession | None) -> None:
        body = await read_body(receive)
        p = peek(body, whole=True)  # never raises: deep or huge-number messages are scanned, not parsed
        if p.kind == "batch":
            await send_json(send, 400, _rpc_error(-32600, _NO_BATCH))
            return
        if p.kind == "invalid":
            await send_json(send, 400, _rpc_error(-32700, "Parse error: the body is not a JSON-RPC message"))
            return
        new_sid = None
        if session is None:
            if p.kind == "request" and p.method == "initialize":
                await self._close_idle()
                new_sid = uuid.uuid4().hex
                session = await self._open(new_sid, key)
                self.sessions[new_sid] = session
            else:
                session = await self._shared(key)
        assert session.bridge is not None
        session.last_used = time.monotonic()
        if p.kind != "request" or p.id is None:
            await session.bridge.from_client(body)
            await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        stream = SseStream()
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
        extra = [(b"mcp-session-id", new_sid.encode())] if new_sid else []
        await start_sse(send, extra)
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
            await send_json(send, 405, _rpc_error(-32600, "GET needs an Mcp-Session-Id"), [(b"allow", b"POST")])
            return
        stream = SseStream()
        last = header(scope["headers"], b"last-event-id")
        if last is not None:
            ids = [eid for eid, _ in session.log]
            start = ids.index(last.decode()) + 1 if last.decode() in ids else 0
            for item in list(session.log)[start:]:
                stream.queue.put_nowait(item)
        for item in session.backlog:
            stream.queue.put_nowait(item)
        session.backlog.clear()
        session.get = stream
        await start_sse(send)
        try:
            await pump(stream, send, receive)
        finally:
            session.last_used = time.monotonic()
            if session.get is stream:
                session.get = None

    async def _close_idle(self) -> None:
        now = time.monotonic()
        for sid, session in list(self.sessions.items()):
            if session.get is None and not session.posts and now - session.last_used > self.idle_timeout:
                del self.sessions[sid]
                if session.bridge is not None:
                    await session.bridge.close()

    async def close(self) -> None:
        sessions = list(self.sessions.values()) + list(self._stateless.values())
        self.sessions.clear()
        for session in sessions:
            if session.bridge is not None:
                with contextlib.suppress(Exception):
                    await session.bridge.close()


_NO_BATCH = (
    "tracemill: JSON-RPC batches are not accepted here (MCP dropped them in protocol 2025-06-18); "
    "send one message per POST"
)


def _rpc_error(code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
