"""One client connection joined to one upstream channel: relay raw messages both ways, record
each one, and never leave a request hanging when the upstream dies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from proxy.mcp.best_effort import best_effort
from proxy.mcp.jsonrpc import error_reply, peek
from proxy.mcp.outbound import Channel, ChannelError
from recorder import Recorder
from recorder.events import MCPMessage

# Hands a server message to the client; returns the bytes it delivered when it rewrote them.
Deliver = Callable[[bytes], Awaitable[bytes | None]]


class Bridge:
    def __init__(
        self,
        channel: Channel,
        *,
        server: str,
        inbound: str,
        connection: str,
        session: str | None,
        recorder: Recorder,
        deliver: Deliver,
    ) -> None:
        self.channel = channel
        self.server, self.inbound = server, inbound
        self.connection, self.session = connection, session
        self.recorder = recorder
        self.deliver = deliver
        self.pending: dict[str, None] = {}  # ids of client requests not answered yet
        self.done = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.channel.start()
        self._pump = asyncio.create_task(self._from_server())

    def record(self, direction: str, raw: bytes) -> None:
        self.recorder.record(MCPMessage(self.server, direction, self.inbound, raw, self.session, self.connection))

    async def from_client(self, raw: bytes, upstream_raw: bytes | None = None) -> None:
        """Record one client message (a queue put, so the answer cannot overtake it), then forward it,
        optionally rewritten for the upstream."""
        p = peek(upstream_raw or raw)
        if p.kind == "request" and p.id is not None:
            self.pending[p.id] = None
        self.record("c2s", raw)
        try:
            await self.channel.send(upstream_raw or raw)
        except ChannelError as exc:
            if p.kind == "request" and p.id is not None:
                self.pending.pop(p.id, None)
                reply = error_reply(p.id, str(exc))
                self.record("s2c", await self.deliver(reply) or reply)

    async def _from_server(self) -> None:
        try:
            async for raw in self.channel.messages():
                delivered = await self.deliver(raw)
                self.record("s2c", delivered or raw)
                if raw[:1] == b"{" and self.pending:
                    p = peek(raw)
                    if p.kind == "response" and p.id is not None:
                        self.pending.pop(p.id, None)
        finally:
            reason = self.channel.closed_reason or f"MCP server '{self.server}' went away"
            for pid in list(self.pending):
                reply = error_reply(pid, f"{reason} before answering this request")
                delivered = None
                with best_effort(f"telling the client of {self.server} that request {pid} is lost"):
                    delivered = await self.deliver(reply)
                self.record("s2c", delivered or reply)
            self.pending.clear()
            self.done.set()

    async def close(self) -> None:
        await self.channel.close()
        if self._pump is not None:
            with best_effort(f"waiting for the {self.server} reader to end", asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._pump, 5)
