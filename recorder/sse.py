"""An incremental Server-Sent Events splitter: feed it bytes as they come, get whole events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEParser:
    """Splits a byte stream into events per the WHATWG rules (CRLF, CR or LF; comments ignored)."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        self._buf += chunk
        while True:
            cut = _line_end(self._buf)
            if cut is None:
                return
            end, nxt = cut
            line = self._buf[:end].decode("utf-8", "replace")
            self._buf = self._buf[nxt:]
            event = self._line(line)
            if event is not None:
                yield event

    def close(self) -> Iterator[SSEEvent]:
        """Flush a final event that had no blank line after it."""
        if self._buf:
            event = self._line(self._buf.decode("utf-8", "replace"))
            self._buf = b""
            if event is not None:
                yield event
        event = self._line("")
        if event is not None:
            yield event

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            if not self._data and not self._event:
                return None
            event = SSEEvent("\n".join(self._data), self._event or "message", self._id)
            self._data, self._event = [], ""
            return event
        if line.startswith(":"):
            return None  # keep-alive comment
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


def _line_end(buf: bytes) -> tuple[int, int] | None:
    """Index where the first line ends and where the next begins, or None if no line is whole."""
    n = buf.find(b"\n")
    r = buf.find(b"\r")
    if r == -1 and n == -1:
        return None
    if r == -1 or (n != -1 and n < r):
        return n, n + 1
    if r == len(buf) - 1:
        return None  # a lone CR at the end may be half of a CRLF
    return (r, r + 2) if buf[r + 1 : r + 2] == b"\n" else (r, r + 1)


def parse_all(chunks: Iterable[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    events.extend(parser.close())
    return events
