"""The OpenAI-compatible relay: bytes in, bytes out, and a copy of both for the recorder.

Nothing is parsed on the client's path: the request body is forwarded as received, each upstream
chunk is sent on the moment it arrives, and the copies go to the recorder as one event after the
last byte. Reassembly happens in the writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import httpx2

from proxy.asgi import (
    Receive,
    Scope,
    Send,
    downstream_headers,
    error_body,
    read_body,
    send_json,
    upstream_headers,
    wait_disconnect,
)
from proxy.config import LLMConfig
from proxy.token_capture import Capture, Capturer
from recorder import Recorder
from recorder.events import LLMExchange
from recorder.ingest.redact import KEY_HEADERS, bearer_value, mask_url

log = logging.getLogger("tracemill.llm")


class UpstreamBroke(Exception):
    """The upstream failed after the response had started: the only honest move is to cut the
    client's connection too. Its traceback is filtered out of uvicorn's log (see server.py)."""


class _Watch:
    """Cancels the relay task when the client goes away before the answer is done."""

    __slots__ = ("done", "gone", "task")

    def __init__(self) -> None:
        self.done = False
        self.gone = False

    async def run(self, receive: Receive, task: asyncio.Task[object]) -> None:
        await wait_disconnect(receive)
        if not self.done:
            self.gone = True
            task.cancel()


class LLMRelay:
    def __init__(self, config: LLMConfig, recorder: Recorder, record_limit: int = 64 * 1024 * 1024) -> None:
        self.config = config
        self.recorder = recorder
        self.record_limit = record_limit  # [store] max_body_bytes: the copy for the record stops here
        self.base = config.base_url.rstrip("/")
        self.client: httpx2.AsyncClient | None = None
        self.tokens = Capturer(config) if config.capture_tokens else None  # opt-in: proxy/token_capture.py

    def _api_key(self) -> str | None:
        return os.environ.get(self.config.api_key_env) if self.config.api_key_env else None

    async def start(self) -> None:
        self.client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=256, keepalive_expiry=30),
            trust_env=False,
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def handle(self, scope: Scope, receive: Receive, send: Send, path: str, session: str | None) -> None:
        """Relay one request whose path, after any /s/<key> prefix, is `path` (starting /v1/)."""
        started_at, t0 = time.time(), time.perf_counter()
        body = await read_body(receive)
        ev = self._exchange(scope, path, session, body, started_at)
        capture = self.tokens.begin(ev.method, path, body) if self.tokens else None
        ev.tokens = capture.record if capture else None
        watch = _Watch()
        task = asyncio.current_task()
        assert task is not None and self.client is not None
        watcher = asyncio.create_task(watch.run(receive, task))
        response = None
        try:
            upstream_body = capture.body if capture else body
            request = httpx2.Request(ev.method, ev.upstream_url, headers=ev.request_headers, content=upstream_body)
            response = await self.client.send(request, stream=True)
            if capture:
                response = await capture.settle(self.client, ev.method, ev.upstream_url, ev.request_headers, response)
            await self._forward(ev, response, send, capture, t0)
            watch.done = True
            await send({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:
            if not watch.gone:
                ev.incomplete, ev.error = True, "tracemill stopped before the answer was complete"
                raise
            task.uncancel()
            # Only a fact: whether the answer was complete (a relayed [DONE]) is the writer's call.
            ev.incomplete = ev.client_gone = True
        except httpx2.TransportError as exc:
            await self._upstream_failed(ev, exc, send, started=ev.status is not None)
        finally:
            watch.done = True
            watcher.cancel()
            if response is not None:
                await response.aclose()
            ev.duration_ms = (time.perf_counter() - t0) * 1000
            self.recorder.record(ev)

    def _exchange(self, scope: Scope, path: str, session: str | None, body: bytes, started_at: float) -> LLMExchange:
        """The event for this request: where it goes, with which headers (a configured key added when the
        client sent none), and the secrets to mask in the record."""
        query = scope.get("query_string") or b""
        url = self.base + _raw_tail(scope, path) + ("?" + query.decode("latin-1") if query else "")
        headers = upstream_headers(scope["headers"])
        secrets = tuple(bearer_value(v.decode("latin-1")) for k, v in headers if k in KEY_HEADERS)
        if not secrets and (key := self._api_key()):
            headers.append((b"authorization", b"Bearer " + key.encode()))
            secrets = (key,)
        return LLMExchange(
            method=scope["method"],
            path=path,
            upstream_url=url,
            request_headers=headers,
            request_body=body if len(body) <= self.record_limit else body[: self.record_limit],
            body_truncated=len(body) > self.record_limit,
            started_at=started_at,
            session=session,
            client=_client(scope),
            secrets=secrets,
        )

    async def _forward(
        self, ev: LLMExchange, response: httpx2.Response, send: Send, capture: Capture | None, t0: float
    ) -> None:
        """The upstream's status, headers and every chunk as it arrives; a copy for the record, up to its limit."""
        ev.status = response.status_code
        ev.response_headers = response.headers.raw
        out_headers = capture.headers(response) if capture else downstream_headers(response.headers.raw)
        await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
        chunks, room = ev.response_chunks, self.record_limit
        async for chunk in response.aiter_raw():
            if not chunks:
                ev.ttfb_ms = (time.perf_counter() - t0) * 1000
            if len(chunk) <= room:
                chunks.append(chunk)
                room -= len(chunk)
            elif not ev.body_truncated:  # the client still gets every byte; the record stops here
                chunks.append(chunk[:room])
                room, ev.body_truncated = 0, True
            if capture and not (chunk := capture.rewrite(chunk)):
                continue
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if capture and (rest := capture.tail()):
            await send({"type": "http.response.body", "body": rest, "more_body": True})

    async def _upstream_failed(self, ev: LLMExchange, exc: httpx2.TransportError, send: Send, started: bool) -> None:
        timeout = isinstance(exc, httpx2.TimeoutException)
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        shown = mask_url(ev.upstream_url)  # no key from a query string or a user:password@ in what we say
        what = what.replace(ev.upstream_url, shown)
        if started:
            # Headers (and maybe chunks) are out; we cannot change the status now.
            ev.incomplete = True
            ev.error = f"upstream failed mid-response ({what})"
            log.warning("%s %s: %s", ev.method, ev.path, ev.error)
            raise UpstreamBroke(ev.error) from None
        status = 504 if timeout else 502
        if timeout:
            message = (
                f"tracemill: the upstream LLM at {shown} did not answer in time ({what}). "
                "Raise [llm].timeout in proxy.toml if the model is just slow."
            )
        else:
            message = (
                f"tracemill: could not reach the upstream LLM at {shown} ({what}). "
                "Is the server running? Set [llm].base_url in proxy.toml, TRACEMILL_UPSTREAM, "
                "or `tracemill serve --upstream URL`."
            )
        payload = error_body(status, "upstream_timeout" if timeout else "upstream_unreachable", message, upstream=shown)
        body = await send_json(send, status, payload, [(b"x-tracemill-error", b"upstream")])
        ev.status, ev.error = status, message
        ev.response_headers = [(b"content-type", b"application/json")]
        ev.response_chunks = [body]


def _raw_tail(scope: Scope, path: str) -> str:
    """The path after /v1 as the client encoded it (the guard refused dot segments), so an encoded
    '?', '#' or '/' reaches the upstream as sent instead of changing the URL's meaning."""
    raw: bytes = scope.get("raw_path") or b""
    if raw.startswith(b"/s/"):
        raw = raw[raw.find(b"/", 3) :]
    return raw[3:].decode("latin-1") if raw.startswith(b"/v1/") else path[3:]


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None
