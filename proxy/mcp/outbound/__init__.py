"""MCP ways out, each as a channel of raw JSON-RPC messages: a stdio child, a streamable HTTP
server, or a legacy SSE server.

A channel takes one message's bytes with `send()` and yields the server's messages, as bytes,
from `messages()`. Nothing is parsed except what routing needs; bytes are never re-serialised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from proxy.config import MCPServerConfig

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


def scrub(text: str, url: str) -> str:
    """An error text with the secrets `url` carries (user:password@, ?key=) masked, the URL first."""
    from recorder.ingest.redact import MASK, mask_url, url_secrets

    text = text.replace(url, mask_url(url))
    userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    user = userinfo.partition(":")[0] if ":" in userinfo else None  # a user name alone is no secret
    for secret in sorted(set(url_secrets(url)) - {user}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def split_lines(buffer: bytearray, chunk: bytes) -> list[bytes]:
    """Append a chunk and cut off every complete line; no limit on line length. Linear: a chunk
    with no line end only grows the buffer, and each line is copied once."""
    buffer += chunk
    if b"\n" not in chunk:
        return []
    *lines, rest = bytes(buffer).split(b"\n")
    buffer[:] = rest
    return [line[:-1] if line[-1:] == b"\r" else line for line in lines if line and not line.isspace()]


def open_channel(
    config: MCPServerConfig, client: httpx2.AsyncClient | None = None, stderr: int | None = None
) -> Channel:
    """The channel for a configured server: one implementation per transport in this folder."""
    from proxy.mcp.outbound.http import HttpChannel
    from proxy.mcp.outbound.sse import SseChannel
    from proxy.mcp.outbound.stdio import StdioChannel

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
