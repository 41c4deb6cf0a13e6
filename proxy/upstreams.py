"""MCP ways out, each as a channel of raw JSON-RPC messages: a stdio child, a streamable HTTP
server, or a legacy SSE server.

A channel takes one message's bytes with `send()` and yields the server's messages, as bytes,
from `messages()`. Nothing is parsed except what routing needs; bytes are never re-serialised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

import httpx2

from proxy.config import MCPServerConfig
from recorder.sse import SSEParser

log = logging.getLogger("tracemill.mcp")
_EOF = object()


class ChannelError(RuntimeError):
    """The upstream could not be started or reached; the message says which and why."""


class Channel:
    """Base: a queue of the server's messages, fed by a reader task."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed_reason: str | None = None  # set when the upstream went away
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()

    async def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def send(self, raw: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def messages(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._inbox.get()
            if item is _EOF:
                return
            yield item

    def _ended(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._inbox.put_nowait(_EOF)


def split_lines(buffer: bytearray, chunk: bytes) -> list[bytes]:
    """Append a chunk and cut off every complete line; no limit on line length."""
    buffer += chunk
    if b"\n" not in chunk:
        return []
    *lines, rest = bytes(buffer).split(b"\n")
    buffer[:] = rest
    return [line.rstrip(b"\r") for line in lines if line.strip()]


class StdioChannel(Channel):
    """A child process speaking newline-delimited JSON-RPC on stdin/stdout."""

    def __init__(self, config: MCPServerConfig, stderr: int | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        self.stderr = stderr  # None: the child's stderr passes straight through to ours
        self.proc: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        command = self.config.command or ""
        exe = shutil.which(command) or command
        env = {**os.environ, **self.config.env}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                exe, *self.config.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=self.stderr, env=env, cwd=self.config.cwd,
            )
        except OSError as exc:
            raise ChannelError(f"MCP server '{self.name}': cannot start {command!r} ({exc.strerror or exc})") from None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        buffer = bytearray()
        while chunk := await self.proc.stdout.read(1 << 16):
            for line in split_lines(buffer, chunk):
                self._inbox.put_nowait(line)
        if buffer.strip():
            self._inbox.put_nowait(bytes(buffer))
        self.returncode = await self.proc.wait()
        self._ended(f"MCP server '{self.name}' exited with code {self.returncode}")

    async def send(self, raw: bytes) -> None:
        if self.proc is None or self.proc.stdin is None or self.closed_reason:
            raise ChannelError(self.closed_reason or f"MCP server '{self.name}' is not running")
        async with self._lock:  # one whole line at a time
            try:
                self.proc.stdin.write(raw if raw.endswith(b"\n") else raw + b"\n")
                await self.proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                raise ChannelError(f"MCP server '{self.name}' closed its stdin") from None

    async def close(self, grace: float = 2.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, grace)


def routing_headers(raw: bytes) -> dict[str, str]:
    """The per-message headers a 2026-07-28 request carries over HTTP, mirrored from its body."""
    from mcp.shared.inbound import NAME_BEARING_METHODS, encode_header_value

    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(message, dict) or "method" not in message:
        return {}
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
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
            self._answer_failure(raw, 502, f"cannot reach {self.url}: {exc}".encode())
        if self.session_id and not self._get_started:
            self._get_started = True
            self._spawn(self._listen())

    def _note_version(self, body: bytes) -> None:
        if self.protocol_version is None and b'"protocolVersion"' in body:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                self.protocol_version = json.loads(body)["result"]["protocolVersion"]

    def _answer_failure(self, raw: bytes, status: int, body: bytes) -> None:
        """An HTTP failure to a request becomes a JSON-RPC error, so a stdio client is not left hanging."""
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if isinstance(message, dict) and "id" in message and "method" in message:
            text = body.decode("utf-8", "replace")[:500]
            error = {"code": -32000, "message": f"MCP server '{self.name}' answered HTTP {status}: {text}"}
            self._inbox.put_nowait(json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": error}).encode())

    async def _pump_sse(self, response: httpx2.Response) -> None:
        parser = SSEParser()
        async for chunk in response.aiter_raw():
            for event in parser.feed(chunk):
                if event.event == "message" and event.data.strip():
                    data = event.data.encode()
                    self._note_version(data)
                    self._inbox.put_nowait(data)

    async def _listen(self) -> None:
        """The standalone GET stream, for messages the server sends outside any request."""
        with contextlib.suppress(httpx2.TransportError):
            async with self.client.stream("GET", self.url, headers={**self._base_headers(), "accept": "text/event-stream"}) as response:
                if response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", ""):
                    await self._pump_sse(response)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.session_id:
            with contextlib.suppress(httpx2.TransportError):
                await self.client.delete(self.url, headers=self._base_headers())
        self._ended(f"MCP server '{self.name}' connection closed")


class SseChannel(Channel):
    """A legacy HTTP+SSE server: GET the stream, learn the endpoint, POST messages there."""

    def __init__(self, config: MCPServerConfig, client: httpx2.AsyncClient) -> None:
        super().__init__(config.name)
        self.url = config.url or ""
        self.headers = dict(config.headers)
        self.client = client
        self.endpoint: asyncio.Future[str] = asyncio.get_event_loop().create_future()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._stream())
        try:
            await asyncio.wait_for(asyncio.shield(self.endpoint), 30)
        except TimeoutError:
            raise ChannelError(f"MCP server '{self.name}': no endpoint event from {self.url}") from None

    async def _stream(self) -> None:
        try:
            async with self.client.stream("GET", self.url, headers={"accept": "text/event-stream", **self.headers}) as response:
                if response.status_code != 200:
                    raise ChannelError(f"MCP server '{self.name}': GET {self.url} answered {response.status_code}")
                parser = SSEParser()
                async for chunk in response.aiter_raw():
                    for event in parser.feed(chunk):
                        if event.event == "endpoint" and not self.endpoint.done():
                            self.endpoint.set_result(urljoin(self.url, event.data.strip()))
                        elif event.event == "message" and event.data.strip():
                            self._inbox.put_nowait(event.data.encode())
        except (httpx2.TransportError, ChannelError) as exc:
            if not self.endpoint.done():
                self.endpoint.set_exception(ChannelError(f"MCP server '{self.name}': {exc}"))
        self._ended(f"MCP server '{self.name}' closed its SSE stream")

    async def send(self, raw: bytes) -> None:
        if self.closed_reason:
            raise ChannelError(self.closed_reason)
        endpoint = await self.endpoint
        response = await self.client.post(endpoint, content=raw, headers={"content-type": "application/json", **self.headers})
        if response.status_code >= 400:
            raise ChannelError(f"MCP server '{self.name}' refused a message: HTTP {response.status_code}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._ended(f"MCP server '{self.name}' connection closed")


def open_channel(config: MCPServerConfig, client: httpx2.AsyncClient | None = None, stderr: int | None = None) -> Channel:
    if config.command:
        return StdioChannel(config, stderr)
    assert client is not None, "HTTP and SSE upstreams need a client"
    return SseChannel(config, client) if config.transport == "sse" else HttpChannel(config, client)


def mcp_client() -> httpx2.AsyncClient:
    """One pooled client for every MCP upstream: no read timeout, since streams may idle."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(30.0, read=None),
        limits=httpx2.Limits(max_connections=None, max_keepalive_connections=64),
        trust_env=False,
    )
