"""The HTTP connection: uvicorn's httptools protocol plus a header deadline and a header size cap.

uvicorn bounds neither: a client that trickles header bytes, or sends megabytes of them, holds a
connection and memory for as long as it likes. Here a request's line and headers must arrive
within `[server] header_timeout` seconds (else 408) and fit in `[server] max_header_bytes`
(else 431); either way the connection closes. Idle keep-alive connections are uvicorn's
`timeout_keep_alive`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from proxy.config import ServerConfig

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover  (uvicorn without httptools: h11 bounds header size itself)
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def protocol_for(server: ServerConfig) -> Any:
    """The protocol class uvicorn should use, or "h11" where httptools is missing."""
    if HttpToolsProtocol is None:  # pragma: no cover
        return "h11"
    return type(
        "TracemillHttp",
        (GuardedHttpProtocol,),
        {"header_timeout": server.header_timeout, "max_header_bytes": server.max_header_bytes},
    )


if HttpToolsProtocol is not None:

    class GuardedHttpProtocol(HttpToolsProtocol):
        header_timeout = 10.0
        max_header_bytes = 64 * 1024
        _in_headers = True
        _header_bytes = 0
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        _oversized = False

        _raw_bytes = 0  # bytes received while a request's headers were incomplete

        def data_received(self, data: bytes) -> None:
            if self._in_headers:
                self._raw_bytes += len(data)
            super().data_received(data)
            # Headers still incomplete after all these bytes: they were all header bytes.
            if self._in_headers and self._raw_bytes > self.max_header_bytes:
                self._refuse(431, self._too_big_message())

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers, self._header_bytes = True, 0
            if self._deadline is None:
                self._arm()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            """Whole headers that arrived in one piece are counted here; the parser stops at the cap."""
            self._header_bytes += size
            if self._header_bytes > self.max_header_bytes:
                self._oversized = True
                raise ValueError("headers too large")  # httptools turns this into a parser error

        def send_400_response(self, msg: str) -> None:
            if self._oversized:
                self._refuse(431, self._too_big_message())
            else:
                super().send_400_response(msg)

        def _too_big_message(self) -> str:
            return f"the request line and headers are larger than [server] max_header_bytes = {self.max_header_bytes}"

        def on_headers_complete(self) -> None:
            self._in_headers, self._raw_bytes = False, 0
            self._disarm()
            super().on_headers_complete()

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self._in_headers:
                self._refuse(
                    408, f"the request headers did not arrive within [server] header_timeout = {self.header_timeout} s"
                )

        def _refuse(self, status: int, message: str) -> None:
            """Answer and close, unless a response is mid-flight on this connection (then just close)."""
            self._disarm()
            self._in_headers = False
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:
                body = json.dumps(
                    {"error": {"message": f"tracemill: {message}", "type": "bad_request", "code": status}}
                ).encode()
                head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % (
                    status,
                    _REASONS[status],
                    len(body),
                )
                self.transport.write(head + b"connection: close\r\n\r\n" + body)
            self.transport.close()
