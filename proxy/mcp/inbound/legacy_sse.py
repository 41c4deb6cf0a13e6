"""The legacy HTTP+SSE way in: GET /mcp/<name>/sse opens a session whose `endpoint` event points
at the proxy's own /mcp/<name>/messages?session_id=…; POSTs there are relayed upstream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from proxy.asgi import Receive, Scope, Send, read_body, send_json
from proxy.config import MCPServerConfig
from proxy.mcp.best_effort import best_effort
from proxy.mcp.bridge import Bridge
from proxy.mcp.inbound.limits import CapReached, SessionCap
from proxy.mcp.inbound.sse_stream import SseStream, pump, sse_event, start_sse
from proxy.mcp.jsonrpc import error_body, peek
from proxy.mcp.outbound import Channel, ChannelError
from recorder import Recorder

_PATH_SAFE = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar and '/', left as they are


class SseDownstream:
    """Legacy SSE sessions for one server; each holds a slot of the server's cap while open."""

    def __init__(
        self, server: MCPServerConfig, make_channel: Callable[[], Channel], recorder: Recorder, cap: SessionCap
    ) -> None:
        self.name = server.name
        self.backlog_bytes = server.backlog_bytes
        self.make_channel = make_channel
        self.recorder = recorder
        self.cap = cap
        self.sessions: dict[str, Bridge] = {}

    async def open(self, scope: Scope, receive: Receive, send: Send, prefix: str, session_key: str | None) -> None:
        sid = uuid.uuid4().hex
        stream = SseStream(self.backlog_bytes, f"MCP SSE session {sid[:12]}")

        async def deliver(raw: bytes) -> None:
            stream.put(None, raw, droppable=peek(raw).kind != "response")

        try:
            self.cap.take()
        except CapReached as exc:
            await send_json(send, 503, error_body(str(exc), data={"setting": exc.setting, "limit": exc.limit}))
            return
        try:
            await self._serve(sid, stream, deliver, send, receive, prefix, session_key)
        finally:
            self.cap.give_back()

    async def _serve(
        self,
        sid: str,
        stream: SseStream,
        deliver: Callable[[bytes], Awaitable[None]],
        send: Send,
        receive: Receive,
        prefix: str,
        session_key: str | None,
    ) -> None:
        bridge = Bridge(
            self.make_channel(),
            server=self.name,
            inbound="sse",
            connection=sid,
            session=session_key or sid,
            recorder=self.recorder,
            deliver=deliver,
        )
        try:
            await bridge.start()
        except ChannelError as exc:
            await send_json(send, 502, {"error": f"tracemill: {exc}"})
            return
        self.sessions[sid] = bridge
        await start_sse(send)
        # Percent-encoded, so no byte of the path (a session key with CR/LF) can start a new SSE line.
        endpoint = quote(f"{prefix}/mcp/{self.name}/messages", safe=_PATH_SAFE).encode() + f"?session_id={sid}".encode()
        await send({"type": "http.response.body", "body": sse_event(endpoint, event="endpoint"), "more_body": True})
        ended = asyncio.create_task(bridge.done.wait())
        ended.add_done_callback(lambda _: stream.end())  # the upstream went away
        try:
            await pump(stream, send, receive)
        finally:
            ended.cancel()
            self.sessions.pop(sid, None)
            await bridge.close()

    async def post(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
        sid = (query.get("session_id") or [""])[0]
        bridge = self.sessions.get(sid)
        body = await read_body(receive)
        if bridge is None:
            await send_json(send, 404, {"error": f"tracemill: no SSE session {sid!r}; open /mcp/{self.name}/sse first"})
            return
        await bridge.from_client(body)
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"8")]})
        await send({"type": "http.response.body", "body": b"Accepted"})

    async def close(self) -> None:
        for bridge in list(self.sessions.values()):
            with best_effort(f"closing an SSE session of {self.name}"):
                await bridge.close()
        self.sessions.clear()
