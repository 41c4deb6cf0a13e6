"""The ASGI entry: raw routing, because a framework layer costs on the hot path.

Routes: /healthz; /v1/* and /s/<key>/v1/* to the LLM relay; /mcp/<name>... and
/s/<key>/mcp/<name>... to the MCP relays. The session key comes from the /s/<key> prefix, else
X-Tracemill-Session, else a client's own session header.
"""

from __future__ import annotations

import logging
from typing import Any

from proxy.asgi import Receive, Scope, Send, error_body, send_json
from proxy.config import Config
from proxy.llm import LLMRelay
from recorder import NullRecorder, Recorder, Store

log = logging.getLogger("tracemill")
SESSION_HEADERS = (b"x-tracemill-session", b"x-claude-code-session-id", b"session-id", b"x-session-id")


def session_of(scope: Scope, path: str) -> tuple[str, str | None]:
    """Split an /s/<key> prefix off the path; fall back to session headers."""
    if path.startswith("/s/"):
        key, _, rest = path[3:].partition("/")
        if key:
            return "/" + rest, key
    for name in SESSION_HEADERS:
        for k, v in scope["headers"]:
            if k == name and v:
                return path, v.decode("latin-1")
    return path, None


class App:
    def __init__(self, config: Config, *, record: bool = True) -> None:
        self.config = config
        self.recorder: Recorder = Store.from_config(config) if record else NullRecorder()
        self.llm = LLMRelay(config.llm, self.recorder)
        self.mcp: Any = None  # the MCP router, set in start() when servers are configured

    async def start(self) -> None:
        await self.recorder.start()
        await self.llm.start()
        if self.config.mcp_servers:
            from proxy.mcp.router import MCPRouter

            self.mcp = MCPRouter(self.config, self.recorder)

    async def close(self) -> None:
        if self.mcp is not None:
            await self.mcp.close()
        await self.llm.close()
        await self.recorder.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, session = session_of(scope, scope["path"])
        if path.startswith("/v1/"):
            await self.llm.handle(scope, receive, send, path, session)
        elif path.startswith("/mcp/") and self.mcp is not None:
            await self.mcp.handle(scope, receive, send, path, session)
        elif path == "/healthz":
            await send_json(send, 200, self.health())
        else:
            await send_json(
                send,
                404,
                error_body(404, "not_found", f"tracemill serves /v1/*, /mcp/<server>/* and /healthz; not {scope['path']}"),
            )

    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "upstream": self.config.llm.base_url,
            "store": self.recorder.health(),
            "mcp_servers": sorted(self.config.mcp_servers),
        }

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
