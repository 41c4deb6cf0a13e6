"""The streamable HTTP way in, at /mcp/<name>.

For an HTTP upstream it is a byte-level reverse relay: every header (Mcp-Session-Id,
MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name, Mcp-Param-*, known or not) goes
through, and the answer, JSON or SSE, comes back as sent. Messages are recorded from copies.
"""

from __future__ import annotations

import logging

import httpx2

from proxy.asgi import (
    NOT_UPSTREAM,
    Receive,
    Scope,
    Send,
    downstream_headers,
    header,
    read_body,
    send_json,
    upstream_headers,
)
from proxy.config import MCPServerConfig
from proxy.mcp.jsonrpc import error_body
from proxy.mcp.outbound import scrub
from recorder import Recorder
from recorder.events import MCPMessage, MCPStreamPart, new_uid
from recorder.ingest.redact import header_secrets

log = logging.getLogger("tracemill.mcp")

_AUTH = frozenset({b"authorization", b"cookie"})
_CLIENT_SECRETS = 64  # client tokens remembered per server, to mask where a server echoes them


class HttpReverse:
    """Relay to a streamable HTTP upstream, recording the JSON-RPC messages on both sides."""

    def __init__(self, server: MCPServerConfig, client: httpx2.AsyncClient, recorder: Recorder) -> None:
        self.server = server
        self.client = client
        self.recorder = recorder
        drop = NOT_UPSTREAM if server.pass_auth else NOT_UPSTREAM | _AUTH
        self.drop = frozenset(drop | {k.lower().encode() for k in server.headers})
        self.extra = [(k.lower().encode(), v.encode()) for k, v in server.headers.items()]
        self._client_secrets: dict[str, None] = {}  # insertion-ordered, newest last

    def _record(self, direction: str, raw: bytes, session: str | None, connection: str | None) -> None:
        if raw.strip():
            secrets = tuple(self._client_secrets)
            self.recorder.record(
                MCPMessage(self.server.name, direction, "http", raw, session, connection, secrets=secrets)
            )

    def _remember_client_secrets(self, headers: list[tuple[bytes, bytes]]) -> None:
        """The client's own tokens and cookies: with pass_auth they reach the server, which may echo
        them in a later answer, so the last few seen are masked in everything recorded."""
        found = header_secrets([(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers])
        for secret in found:
            self._client_secrets.pop(secret, None)
            self._client_secrets[secret] = None
        while len(self._client_secrets) > _CLIENT_SECRETS:
            del self._client_secrets[next(iter(self._client_secrets))]

    async def handle(self, scope: Scope, receive: Receive, send: Send, session: str | None) -> None:
        self._remember_client_secrets(scope["headers"])
        body = await read_body(receive)
        headers = upstream_headers(scope["headers"], self.drop) + self.extra
        query = scope.get("query_string") or b""
        url = (self.server.url or "") + ("?" + query.decode("latin-1") if query else "")
        sid = header(scope["headers"], b"mcp-session-id")
        connection = sid.decode("latin-1") if sid else None
        try:
            response = await self.client.send(
                httpx2.Request(scope["method"], url, headers=headers, content=body), stream=True
            )
        except httpx2.TransportError as exc:
            target = self.server.url or ""
            message = (
                f"tracemill: cannot reach MCP server '{self.server.name}' at {target} ({type(exc).__name__}: {exc})"
            )
            message = scrub(message, target)
            await send_json(send, 502, error_body(message))
            self._record("c2s", body, session or connection, connection)
            return
        parts: SsePassThrough | None = None
        try:
            if sid_out := response.headers.get("mcp-session-id"):
                connection = sid_out
            if "text/event-stream" in response.headers.get("content-type", ""):
                parts = SsePassThrough(self, session or connection, connection)
            self._record("c2s", body, session or connection, connection)
            start = {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": downstream_headers(response.headers.raw),
            }
            await send(start)
            whole: list[bytes] = []
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if parts is not None:
                    parts.add(chunk)  # bytes only; the writer splits the messages out
                else:
                    whole.append(chunk)
            await send({"type": "http.response.body", "body": b""})
            if parts is None and "json" in response.headers.get("content-type", ""):
                self._record("s2c", b"".join(whole), session or connection, connection)
        except (httpx2.TransportError, OSError) as exc:  # the upstream or the client went away mid-stream
            log.debug("MCP relay to %s ended early (%s: %s)", self.server.name, type(exc).__name__, exc)
        finally:
            if parts is not None:
                parts.end()
            await response.aclose()


_BLANK_LINE = (b"\n\n", b"\n\r", b"\r\r")  # every way an SSE event can end (and a few false alarms)
PART_BYTES = 1 << 20  # a part goes to the writer at least this often, so a huge event is not held


class SsePassThrough:
    """An SSE answer's bytes on their way to the recorder in parts: one whenever a chunk may close
    an event (so messages are recorded as they come), or every PART_BYTES. No parsing here."""

    def __init__(self, relay: HttpReverse, session: str | None, connection: str | None) -> None:
        self.relay, self.session, self.connection = relay, session, connection
        self.stream = new_uid()
        self.seq = 0
        self.pending: list[bytes] = []
        self.size = 0
        self.tail = b""

    def add(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        self.size += len(chunk)
        seam = self.tail + chunk[:2]
        self.tail = chunk[-2:]
        ends_line = b"\n" in chunk or b"\r" in chunk or b"\n" in seam or b"\r" in seam  # memchr: cheap
        if self.size >= PART_BYTES or (ends_line and any(b in chunk or b in seam for b in _BLANK_LINE)):
            self._send(end=False)

    def end(self) -> None:
        self._send(end=True)

    def _send(self, end: bool) -> None:
        chunk = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending, self.size = [], 0
        server = self.relay.server.name
        secrets = tuple(self.relay._client_secrets)
        part = MCPStreamPart(
            server, "http", self.stream, self.seq, chunk, end, self.session, self.connection, secrets=secrets
        )
        self.relay.recorder.record(part)
        self.seq += 1
