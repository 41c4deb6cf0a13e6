"""Events to rows: the parsing, reassembly and redaction the hot path skipped.

Runs in the writer, off the client's path. Each function returns (table, columns) pairs that
are plain JSON-able values, so the same rows can go to SQLite or to the spill file.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from recorder.dialects import dialect_for
from recorder.dialects.base import INCOMPLETE
from recorder.events import LLMExchange, MCPMessage
from recorder.ingest import Row
from recorder.ingest.completion import decide
from recorder.ingest.mcp_rows import Pairing, mcp_rows
from recorder.ingest.redact import Redactor, header_secrets, mask_url, url_secrets
from recorder.sse import parse_all


def exchange_row(ev: LLMExchange, redactor: Redactor, keep_raw: bool = False) -> Row:
    """One `exchanges` row from a finished (or broken) LLM exchange."""
    request_headers, response_headers = _text(ev.request_headers), _text(ev.response_headers)
    secrets = (*ev.secrets, *header_secrets(request_headers + response_headers), *url_secrets(ev.upstream_url))
    request_json, request_raw, model, stream = None, None, None, False
    try:
        request = json.loads(ev.request_body) if ev.request_body else None
    except ValueError:
        request = None
        request_raw = redactor.blob(ev.request_body, secrets)
    if isinstance(request, dict):
        model = request.get("model") if isinstance(request.get("model"), str) else None
        stream = bool(request.get("stream"))
    if request is not None:
        request_json = redactor.text(ev.request_body.decode("utf-8", "replace"), secrets)

    dialect = dialect_for(ev.method, ev.path)
    body = _decoded(b"".join(ev.response_chunks), response_headers)
    streamed = "text/event-stream" in (_header(response_headers, "content-type") or "")
    response_json = response_raw = reasoning_field = None
    answer: dict[str, Any] | None = None
    done, stream_error = False, None
    generic_usage: dict[str, Any] = {}
    if streamed and dialect is not None:
        stream = True
        assembled = dialect.reassemble(parse_all([body]))
        answer, stream_error, reasoning_field = assembled.answer, assembled.error, assembled.reasoning_field
        done = assembled.done  # the terminal event was relayed: complete, however the connection ended
        response_json = redactor.text(json.dumps(answer, ensure_ascii=False), secrets)
        if keep_raw:
            response_raw = redactor.blob(body, secrets)
    elif body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if parsed is not None:
            response_json = redactor.text(body.decode("utf-8", "replace"), secrets)
            if isinstance(parsed, dict):
                answer = parsed
                generic_usage = parsed["usage"] if isinstance(parsed.get("usage"), dict) else {}
                field_of = getattr(dialect, "reasoning_field", None)  # optional: only chat has a choice of field
                reasoning_field = field_of(parsed) if field_of else None
            if keep_raw:
                response_raw = redactor.blob(body, secrets)
        else:
            response_raw = redactor.blob(body, secrets)
    if isinstance(answer, dict) and isinstance(answer.get("model"), str):
        model = answer["model"]
    if dialect is not None and isinstance(answer, dict):
        prompt_tokens, completion_tokens = dialect.usage(answer)
    else:
        prompt_tokens, completion_tokens = _int(generic_usage.get("prompt_tokens")), _int(generic_usage.get("completion_tokens"))
    received = sum(len(c) for c in ev.response_chunks)
    state = decide(
        ev, dialect, answer, streamed=streamed, done=done, stream_error=stream_error, body_error=_error_text(answer), received=received
    )
    return "exchanges", {
        "uid": ev.uid,
        "started_at": ev.started_at,
        "session": ev.session,
        "client": ev.client,
        "method": ev.method,
        "path": ev.path,
        "upstream": redactor.text(mask_url(ev.upstream_url), secrets),
        "status": ev.status,
        "ttfb_ms": ev.ttfb_ms,
        "duration_ms": ev.duration_ms,
        "model": model,
        "stream": int(stream),
        "request_json": request_json,
        "request_raw": request_raw,
        "request_headers": json.dumps(redactor.headers(request_headers)),
        "response_json": response_json,
        "response_raw": response_raw,
        "response_headers": json.dumps(redactor.headers(response_headers)),
        "reasoning_field": reasoning_field,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "error": redactor.text(state.error, secrets) if state.error else None,
        "incomplete": int(state.state == INCOMPLETE),
        "dialect": dialect.name if dialect is not None else None,
        "completion_state": state.state,
        "completion_reason": redactor.text(state.why, secrets) if state.why else None,
    }


def build(event: Any, redactor: Redactor, keep_raw: bool = False, pairing: Pairing | None = None) -> list[Row]:
    """Every row an event turns into."""
    if isinstance(event, LLMExchange):
        if event.tokens is not None:  # token capture: ids to their table, the client's view to the exchange row
            from recorder.ingest.token_rows import captured_rows

            return captured_rows(event, lambda ev: exchange_row(ev, redactor, keep_raw), lambda body, ev: _decoded(body, _text(ev.response_headers)))
        return [exchange_row(event, redactor, keep_raw)]
    if isinstance(event, MCPMessage):
        return mcp_rows(event, redactor, pairing if pairing is not None else Pairing())
    raise TypeError(f"no rows for {type(event).__name__}")


def _text(headers: list[tuple[bytes, bytes]] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (k.decode("latin-1"), v.decode("latin-1")) if isinstance(k, bytes) else (k, v)  # type: ignore[union-attr]
        for k, v in headers
    ]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _decoded(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    """Undo Content-Encoding for the record; the client got the encoded bytes untouched."""
    encoding = (_header(headers, "content-encoding") or "").lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "br":
            import brotli  # type: ignore[import-not-found]

            return brotli.decompress(body)
    except Exception:
        return body
    return body


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_text(parsed: Any) -> str | None:
    if isinstance(parsed, dict) and "error" in parsed:
        err = parsed["error"]
        if isinstance(err, dict):
            return str(err.get("message") or json.dumps(err))
        return str(err)
    return None
