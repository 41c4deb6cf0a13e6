"""A streamable HTTP server, driven as a client would."""

import asyncio
import contextlib
import json
from typing import Any

import httpx2

from proxy.config import MCPServerConfig
from proxy.mcp.best_effort import best_effort
from proxy.mcp.jsonrpc import error_reply, id_text, peek
from proxy.mcp.outbound import Channel, ChannelError, scrub
from recorder.sse import SSEParser


def routing_headers(raw: bytes) -> dict[str, str]:
    """The per-message headers a 2026-07-28 request carries over HTTP, mirrored from its body."""
    if b"io.modelcontextprotocol/protocolVersion" not in raw:
        return {}  # an older-protocol message: nothing to mirror, nothing to parse
    from mcp.shared.inbound import NAME_BEARING_METHODS, encode_header_value

    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):  # relayed as is; only the headers are left out
        return {}
    if not isinstance(message, dict) or "method" not in message:
        return {}
    params: dict[str, Any] = message["params"] if isinstance(message.get("params"), dict) else {}
    version = (params.get("_meta") or {}).get("io.modelcontextprotocol/protocolVersion")
    if not version:
        return {}
    headers = {"mcp-protocol-version": version, "mcp-method": message["method"]}
    key = NAME_BEARING_METHODS.get(message["method"])
    if key and isinstance(params.get(key), str):
        headers["mcp-name"] = encode_header_value(params[key])
    return headers


class HttpChannel(Channel):
    """A streamable HTTP server, driven as a client would: POST each message, read JSON or SSE
    answers, keep the session id, and hold a GET stream open for server-initiated messages."""

    def __init__(self, config: MCPServerConfig, client: httpx2.AsyncClient) -> None:
        super().__init__(config.name)
        self.url = config.url or ""
        self.headers = dict(config.headers)
        self.client = client
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._get_started = False

    async def start(self) -> None:
        return None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _base_headers(self) -> dict[str, str]:
        headers = {"accept": "application/json, text/event-stream", **self.headers}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        if self.protocol_version:
            headers["mcp-protocol-version"] = self.protocol_version
        return headers

    async def send(self, raw: bytes) -> None:
        if self.closed_reason:
            raise ChannelError(self.closed_reason)
        headers = {**self._base_headers(), "content-type": "application/json", **routing_headers(raw)}
        self._spawn(self._post(raw, headers))

    async def _post(self, raw: bytes, headers: dict[str, str]) -> None:
        try:
            async with self.client.stream("POST", self.url, content=raw, headers=headers) as response:
                if sid := response.headers.get("mcp-session-id"):
                    self.session_id = sid
                kind = response.headers.get("content-type", "")
                if response.status_code >= 400:
                    body = await response.aread()
                    self._answer_failure(raw, response.status_code, body)
                    return
                if "text/event-stream" in kind:
                    await self._pump_sse(response)
                elif response.status_code != 202:
                    body = await response.aread()
                    if body.strip():
                        self._note_version(body)
                        self._inbox.put_nowait(body)
        except httpx2.TransportError as exc:
            self._answer_failure(raw, 502, scrub(f"cannot reach {self.url}: {exc}", self.url).encode())
        if self.session_id and not self._get_started:
            self._get_started = True
            self._spawn(self._listen())

    def _note_version(self, body: bytes) -> None:
        if self.protocol_version is None and b'"protocolVersion"' in body[:4096]:  # an initialize answer is small
            with contextlib.suppress(ValueError, RecursionError, AttributeError, TypeError, KeyError):
                self.protocol_version = json.loads(body)["result"]["protocolVersion"]

    def _answer_failure(self, raw: bytes, status: int, body: bytes) -> None:
        """An HTTP failure to a request (or to each request of a batch) becomes a JSON-RPC error, so a
        stdio client is not left hanging."""
        text = f"MCP server '{self.name}' answered HTTP {status}: {body.decode('utf-8', 'replace')[:500]}"
        p = peek(raw, whole=True)
        if p.kind == "request" and p.id is not None:
            self._inbox.put_nowait(error_reply(p.id, text))
        elif p.kind == "batch":
            try:
                batch = json.loads(raw)
            except (ValueError, RecursionError):
                return
            ids = [id_text(m["id"]) for m in batch if isinstance(m, dict) and "id" in m and "method" in m]
            if ids:
                self._inbox.put_nowait(b"[" + b",".join(error_reply(i, text) for i in ids) + b"]")

    async def _pump_sse(self, response: httpx2.Response) -> None:
        parser = SSEParser(raw=True)  # each message's bytes as sent: no decode and encode again
        async for chunk in response.aiter_raw():
            for event in parser.feed(chunk):
                if event.event == "message" and event.raw and not event.raw.isspace():
                    self._note_version(event.raw)
                    self._inbox.put_nowait(event.raw)

    async def _listen(self) -> None:
        """The standalone GET stream, for messages the server sends outside any request."""
        with best_effort(f"the standalone GET stream of {self.name}", httpx2.TransportError):
            async with self.client.stream(
                "GET", self.url, headers={**self._base_headers(), "accept": "text/event-stream"}
            ) as response:
                if response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", ""):
                    await self._pump_sse(response)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.session_id:
            with best_effort(f"ending the session with {self.name}", httpx2.TransportError):
                await self.client.delete(self.url, headers=self._base_headers())
        self._ended(f"MCP server '{self.name}' connection closed")
