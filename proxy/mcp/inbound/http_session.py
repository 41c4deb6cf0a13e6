"""One bridged streamable HTTP session: its open streams, where each server message goes, the
backlog for a GET stream not open yet and the replay log for Last-Event-ID (both bounded in
bytes), and, for the shared stateless channel, the id rewriting."""

from __future__ import annotations

import itertools
import re
import time

from proxy.mcp.bridge import Bridge
from proxy.mcp.inbound.limits import Backlog
from proxy.mcp.inbound.sse_stream import SseStream
from proxy.mcp.jsonrpc import id_text, peek

REPLAY_EVENTS = 1000  # at most this many events kept for Last-Event-ID, within the byte bound too


class HttpSession:
    def __init__(self, sid: str, stateless: bool = False, backlog_bytes: int = 4 * 1024 * 1024) -> None:
        self.id = sid
        self.stateless = stateless
        self.backlog_bytes = backlog_bytes
        self.bridge: Bridge | None = None
        self.posts: list[SseStream] = []
        self.by_id: dict[str, SseStream] = {}
        self.by_token: dict[str, SseStream] = {}
        self.get: SseStream | None = None
        self.backlog: Backlog[tuple[str, bytes]] = Backlog(backlog_bytes, f"MCP session {sid[:12]}: the backlog")
        self.log: Backlog[tuple[str, bytes]] = Backlog(backlog_bytes, f"MCP session {sid[:12]}: the replay log")
        self.original_ids: dict[str, str] = {}  # upstream id -> the client's id (stateless only)
        self.last_used = time.monotonic()
        self.closed = False
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)

    def stream(self) -> SseStream:
        return SseStream(self.backlog_bytes, f"MCP session {self.id[:12]}: an SSE stream")

    def idle(self, now: float, idle_seconds: float) -> bool:
        """No open stream, and no request for `idle_seconds` (or the upstream went away)."""
        if self.posts or self.get is not None:
            return False
        gone = self.bridge is not None and self.bridge.done.is_set()
        return gone or now - self.last_used > idle_seconds

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
        self.log.append((event_id, raw), len(raw))
        if len(self.log) > REPLAY_EVENTS:
            self.log.popleft()
        if target is None:
            self.backlog.append((event_id, raw), len(raw))
        else:
            target.put(event_id, raw, droppable=p.kind != "response")
            if target is not self.get and p.kind == "response" and not target.waiting:
                target.end()
        return delivered

    def open_get(self, last_event_id: str | None) -> SseStream:
        """The standalone GET stream, primed with the replay after `last_event_id` and the backlog."""
        stream = self.stream()
        sent: set[str] = set()
        if last_event_id is not None:
            ids = [eid for eid, _ in self.log]
            start = ids.index(last_event_id) + 1 if last_event_id in ids else 0
            for event_id, raw in list(self.log)[start:]:
                stream.put(event_id, raw)
                sent.add(event_id)
        while self.backlog:
            event_id, raw = self.backlog.popleft()
            if event_id not in sent:
                stream.put(event_id, raw)
        self.get = stream
        return stream


def _restore_id(raw: bytes, upstream: str, original: str) -> bytes:
    """Put the client's id back in place of ours; every other byte, spacing included, stays."""
    pattern = re.compile(rb'("id"\s*:\s*)' + re.escape(upstream.encode()))
    return pattern.sub(lambda m: m.group(1) + original.encode(), raw, count=1)
