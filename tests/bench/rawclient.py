"""A minimal keep-alive HTTP/1.1 client, so the client's own overhead does not blur the numbers."""

from __future__ import annotations

import asyncio
import time


class RawClient:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[float, float, bytes]:
        """Returns (seconds to first body byte, seconds in all, body); response headers in .last_headers."""
        assert self.reader and self.writer
        t0 = time.perf_counter()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n{extra}"
            f"authorization: Bearer sk-bench\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.last_headers = head.decode("latin-1")
        headers = head.lower()
        ttfb = None
        out = bytearray()
        if b" 202 " in headers.split(b"\r\n")[0] and b"content-length: 0" in headers:
            return time.perf_counter() - t0, time.perf_counter() - t0, b""
        if b"content-length:" in headers:
            length = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
            out += await self.reader.readexactly(length)
            ttfb = time.perf_counter() - t0
        else:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                out += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
                if ttfb is None:
                    ttfb = time.perf_counter() - t0
        return ttfb or 0.0, time.perf_counter() - t0, bytes(out)

    async def close(self) -> None:
        if self.writer:
            self.writer.close()
