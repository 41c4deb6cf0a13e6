"""Events to rows: the parsing, reassembly and redaction the hot path skipped.

Runs in the writer, off the client's path. Each function returns (table, columns) pairs that
are plain JSON-able values, so the same rows can go to SQLite or to the spill file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from recorder.dialects import dialect_for
from recorder.dialects.base import INCOMPLETE, Dialect, Reassembled
from recorder.events import LLMExchange, MCPMessage, MCPStreamPart
from recorder.ingest import Row, deep_json
from recorder.ingest.completion import decide
from recorder.ingest.decoding import decode_body
from recorder.ingest.mcp_rows import Pairing, mcp_rows
from recorder.ingest.mcp_streams import stream_rows
from recorder.ingest.redact import Redactor, header_secrets, mask_url, url_secrets
from recorder.sse import parse_all

MAX_BODY = 64 * 1024 * 1024  # the default of [store] max_body_bytes


@dataclass
class _Request:
    """The request as recorded: JSON text when it parsed, else the raw bytes."""

    json: str | None = None
    raw: bytes | None = None
    model: str | None = None
    stream: bool = False


@dataclass
class _Response:
    """The answer as recorded: reassembled for a dialect's stream, JSON text, or raw bytes."""

    json: str | None = None
    raw: bytes | None = None
    answer: dict[str, Any] | None = None
    reasoning_field: str | None = None
    streamed: bool = False  # a stream its dialect reassembled
    done: bool = False  # the stream's terminal event was relayed
    stream_error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # a JSON body's own usage, for paths without a dialect


def exchange_row(ev: LLMExchange, redactor: Redactor, keep_raw: bool = False, max_body: int = MAX_BODY) -> Row:
    """One `exchanges` row from a finished (or broken) LLM exchange."""
    request_headers, response_headers = _text(ev.request_headers), _text(ev.response_headers)
    secrets = (*ev.secrets, *header_secrets(request_headers + response_headers), *url_secrets(ev.upstream_url))
    notes: list[str] = []
    request = _request(ev, redactor, secrets, notes)
    dialect = dialect_for(ev.method, ev.path)
    body, cut = decode_body(b"".join(ev.response_chunks), _header(response_headers, "content-encoding") or "", max_body)
    streamed = "text/event-stream" in (_header(response_headers, "content-type") or "")
    body_truncated = ev.body_truncated or cut
    if body_truncated:
        notes.append(f"a body passed [store] max_body_bytes = {max_body} and is stored cut there")
        body = _whole_events(body) if streamed else body
    response = _response(ev, dialect, body, streamed, redactor, secrets, keep_raw, notes)
    answer = response.answer
    model = answer["model"] if isinstance(answer, dict) and isinstance(answer.get("model"), str) else request.model
    if dialect is not None and isinstance(answer, dict):
        prompt_tokens, completion_tokens = dialect.usage(answer)
    else:
        prompt_tokens, completion_tokens = (_int(response.usage.get(k)) for k in ("prompt_tokens", "completion_tokens"))
    received = sum(len(c) for c in ev.response_chunks)
    state = decide(
        ev, dialect, answer, streamed=streamed, done=response.done, stream_error=response.stream_error,
        body_error=_error_text(answer), received=received,
    )  # fmt: skip
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
        "stream": int(request.stream or response.streamed),
        "request_json": request.json,
        "request_raw": request.raw,
        "request_headers": json.dumps(redactor.headers(request_headers)),
        "response_json": response.json,
        "response_raw": response.raw,
        "response_headers": json.dumps(redactor.headers(response_headers)),
        "reasoning_field": response.reasoning_field,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "error": redactor.text(state.error, secrets) if state.error else None,
        "incomplete": int(state.state == INCOMPLETE),
        "dialect": dialect.name if dialect is not None else None,
        "completion_state": state.state,
        "completion_reason": redactor.text(state.why, secrets) if state.why else None,
        "body_truncated": int(body_truncated),
        "note": "; ".join(notes) or None,
    }


def _request(ev: LLMExchange, redactor: Redactor, secrets: tuple[str, ...], notes: list[str]) -> _Request:
    out = _Request()
    try:
        request = deep_json.loads(ev.request_body) if ev.request_body else None
    except (ValueError, RecursionError) as exc:
        request = None
        out.raw = redactor.blob(ev.request_body, secrets)
        if isinstance(exc, RecursionError):
            notes.append(f"request {deep_json.TOO_DEEP}")
    if isinstance(request, dict):
        out.model = request.get("model") if isinstance(request.get("model"), str) else None
        out.stream = bool(request.get("stream"))
    if request is not None:
        out.json = redactor.text(ev.request_body.decode("utf-8", "replace"), secrets)
    return out


def _response(
    ev: LLMExchange,
    dialect: Dialect | None,
    body: bytes,
    streamed: bool,
    redactor: Redactor,
    secrets: tuple[str, ...],
    keep_raw: bool,
    notes: list[str],
) -> _Response:
    out = _Response()
    if streamed and dialect is not None and (reassembled := _reassembled(dialect, body, notes)):
        assembled, answer_text = reassembled
        out.streamed, out.answer, out.stream_error = True, assembled.answer, assembled.error
        out.reasoning_field = assembled.reasoning_field
        # The terminal event was relayed: complete, however the connection ended (or past the record's cut).
        out.done = assembled.done or (ev.body_truncated and not ev.incomplete)
        out.json = redactor.text(answer_text, secrets)
        out.raw = redactor.blob(body, secrets) if keep_raw else None
        return out
    if not body:
        return out
    try:
        parsed = deep_json.loads(body)
    except (ValueError, RecursionError) as exc:
        parsed = None
        if isinstance(exc, RecursionError):
            notes.append(f"response {deep_json.TOO_DEEP}")
    if parsed is None:
        out.raw = redactor.blob(body, secrets)
        return out
    out.json = redactor.text(body.decode("utf-8", "replace"), secrets)
    if isinstance(parsed, dict):
        out.answer = parsed
        out.usage = parsed["usage"] if isinstance(parsed.get("usage"), dict) else {}
        field_of = getattr(dialect, "reasoning_field", None)  # optional: only chat has a choice of field
        out.reasoning_field = field_of(parsed) if field_of else None
    out.raw = redactor.blob(body, secrets) if keep_raw else None
    return out


def build(
    event: Any, redactor: Redactor, keep_raw: bool = False, pairing: Pairing | None = None, max_body: int = MAX_BODY
) -> list[Row]:
    """Every row an event turns into."""
    if isinstance(event, LLMExchange):
        if event.tokens is not None:  # token capture: ids to their table, the client's view to the exchange row
            from recorder.ingest.token_rows import captured_rows

            return captured_rows(
                event,
                lambda ev: exchange_row(ev, redactor, keep_raw, max_body),
                lambda body, ev: _decoded(body, _text(ev.response_headers), max_body),
            )
        return [exchange_row(event, redactor, keep_raw, max_body)]
    if isinstance(event, MCPMessage):
        return mcp_rows(event, redactor, pairing if pairing is not None else Pairing())
    if isinstance(event, MCPStreamPart):
        return stream_rows(event, redactor, pairing if pairing is not None else Pairing())
    raise TypeError(f"no rows for {type(event).__name__}")


def _text(headers: list[tuple[bytes, bytes]] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(_latin1(k), _latin1(v)) for k, v in headers]


def _latin1(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _decoded(body: bytes, headers: list[tuple[str, str]], limit: int = MAX_BODY) -> bytes:
    """Undo Content-Encoding for the record, at most `limit` bytes; the client got the encoded bytes."""
    return decode_body(body, _header(headers, "content-encoding") or "", limit)[0]


def _reassembled(dialect: Dialect, body: bytes, notes: list[str]) -> tuple[Reassembled, str] | None:
    """The stream added up, and its answer as JSON text; None (and a note) when an event is nested
    too deeply to parse, so the answer is kept raw instead."""
    try:
        assembled = dialect.reassemble(parse_all([body]))
        return assembled, json.dumps(assembled.answer, ensure_ascii=False)
    except RecursionError:
        notes.append(f"response {deep_json.TOO_DEEP}")
        return None


def _whole_events(body: bytes) -> bytes:
    """A cut stream up to its last complete event, so the cut does not read as a broken event."""
    ends = [at + len(sep) for sep in (b"\n\n", b"\r\n\r\n", b"\r\r") if (at := body.rfind(sep)) >= 0]
    return body[: max(ends)] if ends else b""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_text(parsed: Any) -> str | None:
    if isinstance(parsed, dict) and "error" in parsed:
        err = parsed["error"]
        if isinstance(err, dict):
            return str(err.get("message") or json.dumps(err))
        return str(err)
    return None
