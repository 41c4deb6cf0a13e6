"""Token capture on the relay: ask the upstream for the ids it really used, and give the client its
answer as if nobody had asked.

Opt-in (`[llm] capture_tokens`), because it changes the request sent upstream. Only this mode may
re-serialise a body: a stream is rewritten event by event (events without ids pass byte-exact),
a whole JSON body once at its end. The recorder still gets the upstream's raw bytes, ids included.
What the fields are and where they sit is the dialect's knowledge (recorder/dialects/token_ids.py).
"""

from __future__ import annotations

import logging

import httpx2

from proxy.asgi import RawHeaders, downstream_headers
from proxy.config import LLMConfig
from recorder.dialects import token_ids
from recorder.events import TokenCapture

log = logging.getLogger("tracemill.tokens")
_REFUSAL_STATUSES = (400, 422)


class Capturer:
    """Relay-wide: whether to ask for logprobs too, and whether the upstream refused the fields."""

    def __init__(self, config: LLMConfig) -> None:
        self.logprobs = config.capture_logprobs
        self.refused: str | None = None

    def begin(self, method: str, path: str, body: bytes) -> Capture | None:
        """A capture for one request, or None when the request is not a token-capable one."""
        kind = token_ids.kind_of(method, path)
        if kind is None:
            return None
        if self.refused:
            return Capture(self, TokenCapture(kind, (), self.refused), body, body)
        sent, injected = token_ids.inject(body, kind, self.logprobs)
        return Capture(self, TokenCapture(kind, injected), body, sent)


class Capture:
    """One exchange: the body to send, a retry if refused, and the client's view of the answer."""

    __slots__ = ("_buffer", "_rewrite", "_stripper", "body", "capturer", "original", "record")

    def __init__(self, capturer: Capturer, record: TokenCapture, original: bytes, body: bytes) -> None:
        self.capturer, self.record, self.original, self.body = capturer, record, original, body
        self._rewrite = False
        self._stripper: token_ids.StreamStripper | None = None
        self._buffer: list[bytes] = []

    async def settle(
        self, client: httpx2.AsyncClient, method: str, url: str, headers: RawHeaders, response: httpx2.Response
    ) -> httpx2.Response:
        """If the upstream refused the injected fields, send the client's own request instead, once,
        and stop asking this upstream. Any other answer is returned as it came."""
        if not self.record.injected or response.status_code not in _REFUSAL_STATUSES:
            return response
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        if not any(name.encode() in raw for name in self.record.injected):
            return httpx2.Response(
                response.status_code, headers=response.headers.raw, content=raw, request=response.request
            )
        why = (
            f"the upstream refused {', '.join(self.record.injected)} (HTTP {response.status_code}); "
            "token capture is off for it until tracemill restarts"
        )
        log.warning("%s: %s", url, why)
        self.capturer.refused = self.record.refused = why
        return await client.send(httpx2.Request(method, url, headers=headers, content=self.original), stream=True)

    def headers(self, response: httpx2.Response) -> RawHeaders:
        """The headers for the client; a body that will be rewritten loses its Content-Length."""
        raw = response.headers.raw
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        self._rewrite = (
            bool(self.record.injected)
            and not self.record.refused
            and response.status_code < 400
            and encoding in ("", "identity")
        )
        if self._rewrite and "text/event-stream" in response.headers.get("content-type", ""):
            self._stripper = token_ids.StreamStripper(self.record.kind, self.record.injected)
        out = downstream_headers(raw)
        return [(k, v) for k, v in out if k != b"content-length"] if self._rewrite else out

    def rewrite(self, chunk: bytes) -> bytes:
        """What the client gets for one upstream chunk (b"" when it gets nothing now)."""
        if not self._rewrite:
            return chunk
        if self._stripper is not None:
            return self._stripper.feed(chunk)
        self._buffer.append(chunk)
        return b""

    def tail(self) -> bytes:
        """What the client still gets once the upstream is done."""
        if not self._rewrite:
            return b""
        if self._stripper is not None:
            return self._stripper.close()
        return token_ids.strip_body(b"".join(self._buffer), self.record.kind, self.record.injected)
