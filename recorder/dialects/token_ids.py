"""vLLM's token-id extension of the Chat Completions and Completions wire formats.

With `return_token_ids: true` vLLM adds the ids it really used:
- Chat, whole body: `prompt_token_ids` at the top, `token_ids` on each choice.
- Chat, stream: `prompt_token_ids` on the first chunk, and on every later chunk each choice's new
  `token_ids`. Tokens a parser swallows (`<think>`, `<tool_call>`, ...) come in chunks whose delta
  is empty `{}`: they exist only to carry ids.
- Completions: `prompt_token_ids` and `token_ids` on each choice, whole or streamed.
With `logprobs` (`true` for chat, an integer for completions) each choice carries per-token logprobs.

Asked without the parameter, vLLM sends the same keys as `null`. So giving a client back what it
would have seen means setting what tracemill asked for back to null, and dropping the chunks that
only existed to carry ids. The helpers here work on bytes and parsed JSON; they never do I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from recorder.dialects import chat_completions
from recorder.dialects.base import path_is

CHAT, COMPLETIONS = "chat", "completions"
COMPLETIONS_PATH = "/v1/completions"  # the legacy text completions API (no dialect of its own)
RETURN_IDS, LOGPROBS = "return_token_ids", "logprobs"
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def kind_of(method: str, path: str) -> str | None:
    """Which token-capable dialect a request speaks: CHAT, COMPLETIONS (the legacy text API) or None."""
    if chat_completions.DIALECT.matches(method, path):
        return CHAT
    return COMPLETIONS if path_is(method, path, COMPLETIONS_PATH) else None


def inject(body: bytes, kind: str, logprobs: bool) -> tuple[bytes, tuple[str, ...]]:
    """Add `return_token_ids` (and `logprobs`) to a JSON object body unless the client set them.

    A splice after the opening brace: the client's own bytes are kept as they were, and nothing is
    parsed. A key can only be spotted at the top level or in a nested object, never inside a string
    (its quotes would be escaped), so a false match only means asking for nothing.
    """
    start = len(body) - len(body.lstrip())
    if body[start : start + 1] != b"{":
        return body, ()
    added: list[bytes] = []
    names: list[str] = []
    if b'"return_token_ids"' not in body:
        added.append(b'"return_token_ids":true')
        names.append(RETURN_IDS)
    if logprobs and b'"logprobs"' not in body:
        added.append(b'"logprobs":true' if kind == CHAT else b'"logprobs":0')
        names.append(LOGPROBS)
    if not added:
        return body, ()
    rest = body[start + 1 :]
    joiner = b"," if rest.strip()[:1] not in (b"}", b"") else b""
    return body[: start + 1] + b",".join(added) + joiner + rest, tuple(names)


def strip(obj: Any, kind: str, injected: Iterable[str], stream: bool) -> bool:
    """Set the injected fields of one parsed body or chunk back to null, in place.

    Returns False for a chat chunk that only carried ids (an empty delta and no finish): without the
    parameter vLLM would not have sent it at all.
    """
    if not isinstance(obj, dict):
        return True
    ids, logprobs = RETURN_IDS in injected, LOGPROBS in injected
    if ids and obj.get("prompt_token_ids") is not None:
        obj["prompt_token_ids"] = None
    choices = obj.get("choices")
    if not isinstance(choices, list):
        return True
    only_ids = bool(choices) and kind == CHAT and stream and not obj.get("usage")
    for choice in choices:
        if not isinstance(choice, dict):
            only_ids = False
            continue
        if ids:
            for key in ("token_ids", "prompt_token_ids"):
                if choice.get(key) is not None:
                    choice[key] = None
        if logprobs and choice.get("logprobs") is not None:
            choice["logprobs"] = None
        if choice.get("delta") != {} or choice.get("finish_reason") is not None or choice.get("logprobs") is not None:
            only_ids = False
    return not (only_ids and ids)


def dumps_like(obj: Any, original: bytes) -> bytes:
    """Serialise `obj` in the style of the JSON text it came from: compact or spaced, ASCII or not."""
    spaced = b'": ' in original or b'", "' in original
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(obj, separators=separators, ensure_ascii=original.isascii()).encode()


def strip_body(body: bytes, kind: str, injected: Iterable[str]) -> bytes:
    """A whole JSON answer without what tracemill asked for; other bodies unchanged."""
    if tuple(injected) == (RETURN_IDS,):
        return null_ids(body)
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: relayed as it came
        return body
    if not isinstance(obj, dict):
        return body
    strip(obj, kind, injected, stream=False)
    return dumps_like(obj, body)


def strip_event(event: bytes, kind: str, injected: tuple[str, ...]) -> bytes | None:
    """One SSE event (its bytes, up to and including the blank line): rewritten, unchanged, or None to drop."""
    if not _touched(event, injected):
        return event
    if injected == (RETURN_IDS,):  # the common case: no parse, the event's own bytes with nulls
        event = null_ids(event)
        return None if kind == CHAT and _only_ids(event) else event
    lines = event.splitlines(keepends=True)
    data_at = [i for i, line in enumerate(lines) if line.startswith(b"data:")]
    if len(data_at) != 1:
        return event  # no data, or data split over several lines: not a vLLM chunk
    line = lines[data_at[0]]
    payload = line[5:].strip()
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return event  # [DONE] and anything else that is not JSON
    if not strip(obj, kind, injected, stream=True):
        return None
    ending = line[len(line.rstrip(b"\r\n")) :]
    lines[data_at[0]] = b"data: " + dumps_like(obj, payload) + ending
    return b"".join(lines)


_SPACE, _NOT_IDS = b" \t\r\n", b"0123456789, \t\r\n"


def null_ids(data: bytes) -> bytes:
    """Every `"token_ids": [..]` and `"prompt_token_ids": [..]` set to null, all else byte for byte.

    Found as keys: inside a JSON string their quotes would be escaped. A plain scan with
    `bytes.find`, linear and several times cheaper than a regex over each chunk."""
    out: list[bytes] = []
    start = 0
    at = data.find(b'token_ids"')
    while at >= 0:
        key_start = at - 8 if data[at - 8 : at] == b'"prompt_' else at - 1
        k = at + 10
        if data[key_start : key_start + 1] == b'"':
            k = _skip(data, k)
            if data[k : k + 1] == b":":
                k = _skip(data, k + 1)
                end = data.find(b"]", k)
                if data[k : k + 1] == b"[" and end > 0 and not data[k + 1 : end].translate(None, _NOT_IDS):
                    out += (data[start:k], b"null")
                    start = k = end + 1
        at = data.find(b'token_ids"', k)
    return b"".join(out) + data[start:] if out else data


def _skip(data: bytes, k: int) -> int:
    while data[k : k + 1] and data[k] in _SPACE:
        k += 1
    return k


_OBJECT = re.compile(rb'"(?:usage|logprobs)"\s*:\s*\{')


def _only_ids(event: bytes) -> bool:
    """A chunk of one choice with an empty delta, no finish and no usage: it only carried ids."""
    return (
        (b'"delta":{}' in event or b'"delta": {}' in event)
        and event.count(b'"delta"') == 1
        and (b'"finish_reason":null' in event or b'"finish_reason": null' in event)
        and _OBJECT.search(event) is None
    )


def _touched(event: bytes, injected: tuple[str, ...]) -> bool:
    """Whether an event may hold something to strip: a cheap look that spares most events a parse."""
    if RETURN_IDS in injected and b"token_ids" in event:
        return True
    return LOGPROBS in injected and (b'"logprobs":{' in event or b'"logprobs": {' in event)


class StreamStripper:
    """Rewrites an SSE byte stream event by event; an event split across chunks waits for its end."""

    __slots__ = ("_buf", "injected", "kind")

    def __init__(self, kind: str, injected: tuple[str, ...]) -> None:
        self.kind, self.injected = kind, injected
        self._buf = b""

    def feed(self, chunk: bytes) -> bytes:
        buf = self._buf + chunk if self._buf else chunk
        out: list[bytes] = []
        start = 0
        for end in _event_ends(buf):
            event = strip_event(buf[start:end], self.kind, self.injected)
            if event is not None:
                out.append(event)
            start = end
        self._buf = buf[start:]
        return b"".join(out)

    def close(self) -> bytes:
        """What is left when the stream ends: an unterminated last event, as it came."""
        rest, self._buf = self._buf, b""
        return rest


def _event_ends(buf: bytes) -> Iterator[int]:
    """Where each whole event ends (after its blank line); `find` when lines end in LF alone."""
    if b"\r" in buf:
        yield from (m.end() for m in _EVENT_END.finditer(buf))
        return
    at = buf.find(b"\n\n")
    while at >= 0:
        yield at + 2
        at = buf.find(b"\n\n", at + 2)


def strip_stream(body: bytes, kind: str, injected: tuple[str, ...]) -> bytes:
    stripper = StreamStripper(kind, injected)
    return stripper.feed(body) + stripper.close()
