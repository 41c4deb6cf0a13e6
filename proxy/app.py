"""The ASGI entry: raw routing, because a framework layer costs on the hot path.

Routes: /healthz; /v1/* and /s/<key>/v1/* to the LLM relay; /mcp/<name>... and
/s/<key>/mcp/<name>... to the MCP relays; /ui/... to the viewer, checked after the hot paths.
The session key comes from the /s/<key> prefix, else X-Tracemill-Session, else a client's own
session header. Every request passes the guard (proxy/guard.py) first; browser origins it allows
get CORS headers (proxy/cors.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from proxy.asgi import BodyTooLarge, Receive, Scope, Send, error_body, limit_body, send_json
from proxy.config import Config
from proxy.cors import answer_preflight, is_preflight, with_cors
from proxy.guard import Guard, Refusal, too_large
from proxy.llm import LLMRelay
from proxy.mcp import jsonrpc
from recorder import NullRecorder, Recorder, Store
from recorder.ingest.redact import mask_url

log = logging.getLogger("tracemill")


class App:
    def __init__(self, config: Config, *, record: bool = True) -> None:
        self.config = config
        self.recorder: Recorder = Store.from_config(config) if record else NullRecorder()
        self.guard = Guard(config.server)
        self._refused_logged = 0.0
        self.llm = LLMRelay(config.llm, self.recorder, config.store.max_body_bytes)
        self.mcp: Any = None  # the MCP router, set in start() when servers are configured
        self.ui: Any = None  # the viewer, set in start() unless [ui] enabled = false

    async def start(self) -> None:
        await self.recorder.start()
        await self.llm.start()
        if self.config.mcp_servers:
            from proxy.mcp.router import MCPRouter

            self.mcp = MCPRouter(self.config, self.recorder)
        if self.config.ui.enabled:
            from proxy.ui import build

            self.ui = build(self.config)

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
        checked = self.guard.check(scope)
        if isinstance(checked, Refusal):
            await self.refuse(send, checked, scope)
            return
        path, session, origin = checked.path, checked.session, checked.origin
        # CORS is for browser clients of the APIs; the viewer is same-origin, so no other page may read it.
        if origin is not None and path.startswith(("/v1/", "/mcp/")):
            if is_preflight(scope):
                await answer_preflight(scope, send, origin)
                return
            send = with_cors(send, origin)
        if checked.count_body:
            receive = limit_body(receive, self.guard.max_body)
        try:
            await self.route(scope, receive, send, path, session)
        except BodyTooLarge:
            await self.refuse(send, too_large(self.guard.max_body), scope)

    async def route(self, scope: Scope, receive: Receive, send: Send, path: str, session: str | None) -> None:
        if path.startswith("/v1/"):
            await self.llm.handle(scope, receive, send, path, session)
        elif path.startswith("/mcp/") and self.mcp is not None:
            await self.mcp.handle(scope, receive, send, path, session)
        elif path == "/healthz":
            await send_json(send, 200, self.health())
        elif self.ui is not None and (scope["path"] == "/ui" or scope["path"].startswith("/ui/")):
            await self.ui(scope, receive, send)
        elif self.ui is not None and scope["path"] == "/" and scope["method"] == "GET":
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [(b"location", b"/ui/"), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
        else:
            await send_json(
                send,
                404,
                error_body(
                    404, "not_found", f"tracemill serves /v1/*, /mcp/<server>/*, /ui and /healthz; not {scope['path']}"
                ),
            )

    async def refuse(self, send: Send, refusal: Refusal, scope: Scope) -> None:
        """Answer a refused request with a JSON error (JSON-RPC under /mcp); log it, at most every 5 s."""
        now = time.monotonic()
        if now - self._refused_logged > 5:
            self._refused_logged = now
            log.warning("refused %s %s: %s", scope["method"], scope["path"][:200], refusal.message)
        if "/mcp/" in scope["path"]:
            payload = jsonrpc.error_body(refusal.message, jsonrpc.INVALID_REQUEST)
        else:
            payload = error_body(refusal.status, refusal.kind, refusal.message)
        await send_json(send, refusal.status, payload, [(b"connection", b"close")] if refusal.status == 413 else None)

    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "upstream": mask_url(self.config.llm.base_url),
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
