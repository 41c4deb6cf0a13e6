"""A legacy HTTP+SSE server."""

import asyncio
from urllib.parse import urljoin

import httpx2

from proxy.config import MCPServerConfig
from proxy.mcp.outbound import Channel, ChannelError, scrub
from recorder.sse import SSEParser


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
            raise ChannelError(
                scrub(f"MCP server '{self.name}': no endpoint event from {self.url}", self.url)
            ) from None

    async def _stream(self) -> None:
        try:
            async with self.client.stream(
                "GET", self.url, headers={"accept": "text/event-stream", **self.headers}
            ) as response:
                if response.status_code != 200:
                    raise ChannelError(
                        scrub(f"MCP server '{self.name}': GET {self.url} answered {response.status_code}", self.url)
                    )
                parser = SSEParser(raw=True)  # each message's bytes as sent: no decode and encode again
                async for chunk in response.aiter_raw():
                    for event in parser.feed(chunk):
                        if event.event == "endpoint" and not self.endpoint.done():
                            self.endpoint.set_result(urljoin(self.url, event.raw.decode("utf-8", "replace").strip()))
                        elif event.event == "message" and event.raw and not event.raw.isspace():
                            self._inbox.put_nowait(event.raw)
        except (httpx2.TransportError, ChannelError) as exc:
            if not self.endpoint.done():
                self.endpoint.set_exception(ChannelError(scrub(f"MCP server '{self.name}': {exc}", self.url)))
        self._ended(f"MCP server '{self.name}' closed its SSE stream")

    async def send(self, raw: bytes) -> None:
        if self.closed_reason:
            raise ChannelError(self.closed_reason)
        endpoint = await self.endpoint
        response = await self.client.post(
            endpoint, content=raw, headers={"content-type": "application/json", **self.headers}
        )
        if response.status_code >= 400:
            raise ChannelError(f"MCP server '{self.name}' refused a message: HTTP {response.status_code}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._ended(f"MCP server '{self.name}' connection closed")
