"""An incremental Server-Sent Events splitter: feed it bytes as they come, get whole events."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None
    raw: bytes = b""  # the data as bytes, set (and `data` left empty) by SSEParser(raw=True)


class SSEParser:
    """Splits a byte stream into events per the WHATWG rules (CRLF, CR or LF; comments ignored).

    Linear in the input however it is chunked: a chunk is searched for line ends only where it
    is new, the complete lines are cut out once and split in C, and an unfinished line just grows
    in one buffer (consumed bytes are dropped once they are half of it).
    """

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw  # hand over each event's data as bytes, undecoded (relays that pass bytes on)
        self._buf = bytearray()
        self._pos = 0  # start of the bytes not yet consumed
        self._scan = 0  # no line end in buf[pos:scan]
        self._data: list[bytes] = []
        self._event = b""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        buf = self._buf
        buf += chunk
        last = max(buf.rfind(b"\n", self._scan), buf.rfind(b"\r", self._scan))
        if last < 0:
            self._scan = len(buf)
            return
        if last == len(buf) - 1 and buf[last] == 13:  # a CR at the very end may be half of a CRLF
            self._scan = last
            last = max(buf.rfind(b"\n", self._pos, last), buf.rfind(b"\r", self._pos, last))
            if last < 0:
                return
        lines = bytes(buf[self._pos : last + 1])
        self._pos = last + 1
        self._scan = max(self._scan, self._pos)
        if self._pos * 2 >= len(buf):
            del buf[: self._pos]
            self._scan -= self._pos
            self._pos = 0
        parts = lines.split(b"\n") if b"\r" not in lines else _EOL.split(lines)
        parts.pop()  # the empty piece after the last line end
        yield from self._lines(parts)

    def close(self) -> Iterator[SSEEvent]:
        """Flush a final line and event that had no line end or blank line after them."""
        rest = bytes(self._buf[self._pos :]).removesuffix(b"\r")
        self._buf, self._pos, self._scan = bytearray(), 0, 0
        yield from self._lines([*(_EOL.split(rest) if rest else ()), b""])

    def _lines(self, lines: list[bytes]) -> Iterator[SSEEvent]:
        data = self._data
        for line in lines:
            if not line:
                if data or self._event:
                    payload = b"\n".join(data)
                    kind = self._event.decode("utf-8", "replace") or "message"
                    if self.raw:
                        yield SSEEvent("", kind, self._id, payload)
                    else:
                        yield SSEEvent(payload.decode("utf-8", "replace"), kind, self._id)
                    data = self._data = []
                    self._event = b""
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[0] != 58:  # a line starting with ':' is a comment (keep-alive)
                name, _, value = line.partition(b":")
                value = value[1:] if value[:1] == b" " else value
                if name == b"data":
                    data.append(value)
                elif name == b"event":
                    self._event = value
                elif name == b"id":
                    self._id = value.decode("utf-8", "replace")


def parse_all(chunks: Iterable[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    events.extend(parser.close())
    return events
