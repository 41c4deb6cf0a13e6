"""Events to rows: the parsing, reassembly and redaction the hot path skipped.

Runs in the writer, off the client's path. Each function returns (table, columns) pairs that
are plain JSON-able values, so the same rows can go to SQLite or to the spill file.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from recorder.dialects.chat_completions import assemble, reasoning_field_of
from recorder.events import LLMExchange, MCPMessage
from recorder.ingest import Row
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

    body = _decoded(b"".join(ev.response_chunks), response_headers)
    content_type = _header(response_headers, "content-type") or ""
    response_json = response_raw = reasoning_field = None
    error = ev.error
    usage: dict[str, Any] = {}
    is_chat = ev.path.rstrip("/").endswith("/chat/completions")
    if "text/event-stream" in content_type and is_chat:
        stream = True
        assembled = assemble(parse_all([body]))
        completion = assembled.completion
        response_json = redactor.text(json.dumps(completion, ensure_ascii=False), secrets)
        reasoning_field = assembled.reasoning_field
        usage = completion.get("usage") or {}
        model = completion.get("model") or model
        if assembled.error:
            error = f"{error}; {assembled.error}" if error else f"stream error: {assembled.error}"
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
                usage = parsed["usage"] if isinstance(parsed.get("usage"), dict) else {}
                model = parsed.get("model") if isinstance(parsed.get("model"), str) else model
                reasoning_field = reasoning_field_of(parsed) if is_chat else None
                if ev.status and ev.status >= 400 and not error:
                    error = _error_text(parsed)
            if keep_raw:
                response_raw = redactor.blob(body, secrets)
        else:
            response_raw = redactor.blob(body, secrets)
    if ev.status and ev.status >= 400 and not error:
        error = f"HTTP {ev.status}"
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
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "error": redactor.text(error, secrets) if error else None,
        "incomplete": int(ev.incomplete),
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


def _error_text(parsed: Any) -> str | None:
    if isinstance(parsed, dict) and "error" in parsed:
        err = parsed["error"]
        if isinstance(err, dict):
            return str(err.get("message") or json.dumps(err))
        return str(err)
    return None
