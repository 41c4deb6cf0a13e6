"""A raw streamable HTTP MCP client for edge tests: bytes in, bytes out, nothing validated, so
a test can send what the official client never would (deep JSON, 5,000-digit ids, batches)."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from recorder.sse import parse_all

ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


def call(mid: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": mid, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


class RawMCP:
    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url = http, url
        self.session: str | None = None

    async def post(self, body: bytes | dict[str, Any]) -> httpx2.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {**ACCEPT, **({"mcp-session-id": self.session} if self.session else {})}
        return await self.http.post(self.url, content=raw, headers=headers)

    async def initialize(self) -> httpx2.Response:
        response = await self.post(INIT)
        self.session = response.headers.get("mcp-session-id")
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return response

    async def ask(self, body: bytes | dict[str, Any]) -> list[str]:
        """POST one request; the data of each SSE event (or the JSON body) that came back."""
        response = await self.post(body)
        if "text/event-stream" in response.headers.get("content-type", ""):
            return [e.data for e in parse_all([response.content])]
        return [response.text]

    async def delete(self) -> int:
        response = await self.http.delete(self.url, headers={"mcp-session-id": self.session or ""})
        return response.status_code
