"""/mcp/<name>…: picks the way in (streamable HTTP, or legacy SSE) and the way out per server."""

from __future__ import annotations

from proxy.asgi import Receive, Scope, Send, send_json
from proxy.config import Config, MCPServerConfig
from proxy.mcp.inbound.http_relay import HttpReverse
from proxy.mcp.inbound.http_sessions import HttpSessions
from proxy.mcp.inbound.legacy_sse import SseDownstream
from proxy.mcp.inbound.limits import SessionCap
from proxy.mcp.outbound import Channel, mcp_client, open_channel
from recorder import Recorder


class MCPRouter:
    def __init__(self, config: Config, recorder: Recorder) -> None:
        self.config = config
        self.client = mcp_client()
        self.http: dict[str, HttpReverse | HttpSessions] = {}
        self.sse: dict[str, SseDownstream] = {}
        for name, server in config.mcp_servers.items():
            factory = self._factory(server)
            cap = SessionCap(name, server.max_sessions)  # one count across both ways in
            if server.kind == "http":
                self.http[name] = HttpReverse(server, self.client, recorder)
            else:
                bridge = self.http[name] = HttpSessions(server, factory, recorder, cap)
                bridge.start_sweeping()
            self.sse[name] = SseDownstream(server, factory, recorder, cap)

    def _factory(self, server: MCPServerConfig):  # type: ignore[no-untyped-def]
        def make() -> Channel:
            return open_channel(server, self.client)

        return make

    async def close(self) -> None:
        for handler in self.http.values():
            if isinstance(handler, HttpSessions):
                await handler.close()
        for sse in self.sse.values():
            await sse.close()
        await self.client.aclose()

    async def handle(self, scope: Scope, receive: Receive, send: Send, path: str, session: str | None) -> None:
        name, _, rest = path[len("/mcp/") :].partition("/")
        if name not in self.http:
            known = ", ".join(sorted(self.http)) or "none configured"
            await send_json(send, 404, {"error": f"tracemill: no MCP server named {name!r} (known: {known})"})
            return
        prefix = scope["path"][: len(scope["path"]) - len(path)]  # keeps an /s/<key> prefix
        rest = rest.rstrip("/")
        if rest in ("", "mcp"):  # /mcp/<name>/mcp too, for clients that insist on a path ending in /mcp
            await self.http[name].handle(scope, receive, send, session)
        elif rest == "sse" and scope["method"] == "GET":
            await self.sse[name].open(scope, receive, send, prefix, session)
        elif rest == "messages" and scope["method"] == "POST":
            await self.sse[name].post(scope, receive, send)
        else:
            routes = f"/mcp/{name}, /mcp/{name}/mcp or /mcp/{name}/sse"
            await send_json(send, 404, {"error": f"tracemill: /mcp/{name}/{rest} is not a route (use {routes})"})
