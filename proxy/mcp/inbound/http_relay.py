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
from recorder.events import MCPMessage
from recorder.ingest.redact import header_secrets
from recorder.sse import SSEParser

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
            self.recorder.record(MCPMessage(self.server.name, direction, "http", raw, session, connection, secrets=secrets))

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
        url = self.server.url + ("?" + query.decode("latin-1") if query else "")
        sid = header(scope["headers"], b"mcp-session-id")
        connection = sid.decode("latin-1") if sid else None
        try:
            response = await self.client.send(httpx2.Request(scope["method"], url, headers=headers, content=body), stream=True)
        except httpx2.TransportError as exc:
            target = self.server.url or ""
            message = f"tracemill: cannot reach MCP server '{self.server.name}' at {target} ({type(exc).__name__}: {exc})"
            message = scrub(message, target)
            await send_json(send, 502, error_body(message))
            self._record("c2s", body, session or connection, connection)
            return
        try:
            if sid_out := response.headers.get("mcp-session-id"):
                connection = sid_out
            self._record("c2s", body, session or connection, connection)
            await send({"type": "http.response.start", "status": response.status_code, "headers": downstream_headers(response.headers.raw)})
            sse = "text/event-stream" in response.headers.get("content-type", "")
            parser = SSEParser() if sse else None
            parts: list[bytes] = []
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if parser is None:
                    parts.append(chunk)
                    continue
                for event in parser.feed(chunk):  # record each message as its event completes
                    if event.event == "message" and event.data:
                        self._record("s2c", event.data.encode(), session or connection, connection)
            await send({"type": "http.response.body", "body": b""})
            if parser is None and "json" in response.headers.get("content-type", ""):
                self._record("s2c", b"".join(parts), session or connection, connection)
        except (httpx2.TransportError, OSError) as exc:  # the upstream or the client went away mid-stream
            log.debug("MCP relay to %s ended early (%s: %s)", self.server.name, type(exc).__name__, exc)
        finally:
            await response.aclose()
