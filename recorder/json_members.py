"""The top-level members of a JSON object, found without parsing it: a linear scan that neither
recurses nor converts numbers, for messages `json.loads` refuses (nested 2,000 levels deep, ids
with 5,000 digits) but that still have to be routed and recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Collection

# A string (escapes included) or one structural byte; numbers, literals and spaces are skipped.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]')
_FIRST = re.compile(rb"\s*(\S)")
_SPACE = b" \t\r\n"


def first_byte(raw: bytes) -> bytes:
    """The first non-space byte ('{' for an object, '[' for a batch), or b''."""
    match = _FIRST.match(raw)
    return match.group(1) if match else b""


def members(raw: bytes, want: Collection[str] = ()) -> dict[str, tuple[int, int]] | None:
    """Key -> (start, end) of its value's bytes, for each top-level member of the object in `raw`;
    None when `raw` is not an object. With `want`, stops as soon as those keys are found."""
    start = _FIRST.match(raw)
    if start is None or start.group(1) != b"{":
        return None
    out: dict[str, tuple[int, int]] = {}
    depth, key, value_at = 0, None, -1
    for match in _TOKEN.finditer(raw, start.start(1)):
        at = match.start()
        byte = raw[at : at + 1]
        if depth == 1:
            if byte == b'"' and key is None:
                try:
                    key = json.loads(raw[at : match.end()])
                except ValueError:
                    return None
                continue
            if byte == b":" and key is not None and value_at < 0:
                value_at = match.end()
                continue
            if byte in (b",", b"}") and value_at >= 0:
                out[key] = _trimmed(raw, value_at, at)  # type: ignore[index]
                key, value_at = None, -1
                if want and all(k in out for k in want):
                    return out
        if byte in (b"{", b"["):
            depth += 1
        elif byte in (b"}", b"]"):
            depth -= 1
            if depth == 0:
                return out
    return None  # never closed


def _trimmed(raw: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and raw[start] in _SPACE:
        start += 1
    while end > start and raw[end - 1] in _SPACE:
        end -= 1
    return start, end
