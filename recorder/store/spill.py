"""The spill file: what could not reach the store, one JSON object a line, loaded back later.

A line holds a row (`{"table", "row"}`: the sink failed) or an event not yet turned into rows
(`{"event", "fields"}`: the queue was full, or shutdown came before the writer got to it; spilling
those must be quick, so the parsing waits for `tracemill store recover`). An event's secrets are
masked before it is spilled, as a row's are. The file is created 0600.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recorder.events import LLMExchange, MCPMessage, MCPStreamPart, TokenCapture
from recorder.ingest import Row
from recorder.ingest.decoding import decode_body
from recorder.ingest.event_rows import MAX_BODY, build
from recorder.ingest.mcp_rows import Pairing
from recorder.ingest.redact import Redactor, header_secrets, mask_url, url_secrets
from recorder.store import open_sink
from recorder.store.location import spill_path as location_spill_path


def spill_path(location: str | os.PathLike[str]) -> Path:
    """Next to a SQLite file; for PostgreSQL, per database in the user's state folder (see location.py)."""
    return location_spill_path(location)


def _encode(value: Any) -> Any:
    return {"$b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _decode(value: Any) -> Any:
    return base64.b64decode(value["$b64"]) if isinstance(value, dict) and "$b64" in value else value


def append(path: Path, rows: Iterable[Row]) -> int:
    """Append rows durably; returns how many were written."""
    lines = [json.dumps({"table": table, "row": {k: _encode(v) for k, v in row.items()}}) + "\n" for table, row in rows]
    return _append_lines(path, lines)


def append_events(
    path: Path, events: Iterable[Any], redactor: Redactor, keep_raw: bool = False, max_body: int = MAX_BODY
) -> int:
    """Append events as they are, secrets masked; returns how many were written."""
    lines = []
    for event in events:
        if isinstance(event, LLMExchange):
            kind, fields = "llm", _scrubbed_llm(event, redactor, max_body)
        elif isinstance(event, MCPStreamPart):
            kind, fields = "mcp_part", _scrubbed_part(event, redactor)
        else:
            kind, fields = "mcp", _scrubbed_mcp(event, redactor)
        lines.append(json.dumps({"event": kind, "keep_raw": keep_raw, "fields": fields}) + "\n")
    return _append_lines(path, lines)


def _append_lines(path: Path, lines: list[str]) -> int:
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write() on an O_APPEND file: lines from several processes sharing a spill file never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # private whatever the umask
    try:
        data = "".join(lines).encode()
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(lines)


def read(path: Path) -> Iterator[Row]:
    """Every row the file holds, events turned into rows on the way."""
    pairing = Pairing()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            item = json.loads(line)
            if "table" in item:
                yield item["table"], {k: _decode(v) for k, v in item["row"].items()}
            else:
                yield from build(_event(item), Redactor(), item.get("keep_raw", False), pairing)


def _scrubbed_llm(ev: LLMExchange, redactor: Redactor, max_body: int) -> dict[str, Any]:
    """The exchange's fields with every secret masked (and its answer decoded, so masking sees it)."""
    request_headers, response_headers = _text(ev.request_headers), _text(ev.response_headers)
    secrets = (*ev.secrets, *header_secrets(request_headers + response_headers), *url_secrets(ev.upstream_url))
    encoding = next((v for k, v in response_headers if k.lower() == "content-encoding"), "")
    body, cut = decode_body(b"".join(ev.response_chunks), encoding, max_body)
    fields = {f.name: getattr(ev, f.name) for f in dataclasses.fields(ev)}
    fields.update(
        secrets=[],
        upstream_url=mask_url(ev.upstream_url),
        request_headers=redactor.headers(request_headers),
        request_body=_encode(redactor.blob(ev.request_body, secrets)),
        response_headers=[(k, v) for k, v in redactor.headers(response_headers) if k.lower() != "content-encoding"],
        response_chunks=[_encode(redactor.blob(body, secrets))],
        error=redactor.text(ev.error, secrets) if ev.error else None,
        body_truncated=ev.body_truncated or cut,
        tokens=dataclasses.asdict(ev.tokens) if ev.tokens else None,
    )
    return fields


def _scrubbed_mcp(ev: MCPMessage, redactor: Redactor) -> dict[str, Any]:
    fields = {f.name: getattr(ev, f.name) for f in dataclasses.fields(ev)}
    return {**fields, "secrets": [], "body": _encode(redactor.blob(ev.body, ev.secrets))}


def _scrubbed_part(ev: MCPStreamPart, redactor: Redactor) -> dict[str, Any]:
    fields = {f.name: getattr(ev, f.name) for f in dataclasses.fields(ev)}
    return {**fields, "secrets": [], "chunk": _encode(redactor.blob(ev.chunk, ev.secrets))}


def _event(item: dict[str, Any]) -> LLMExchange | MCPMessage | MCPStreamPart:
    fields = {k: _decode(v) for k, v in item["fields"].items()}
    if item["event"] == "mcp":
        return MCPMessage(**{**fields, "secrets": ()})
    if item["event"] == "mcp_part":  # a part of an SSE answer: split into messages as it is read back
        return MCPStreamPart(**{**fields, "secrets": ()})
    fields["request_headers"] = [tuple(h) for h in fields["request_headers"]]
    fields["response_headers"] = [tuple(h) for h in fields["response_headers"]]
    fields["response_chunks"] = [_decode(c) for c in fields["response_chunks"]]
    if tokens := fields.get("tokens"):
        fields["tokens"] = TokenCapture(**{**tokens, "injected": tuple(tokens.get("injected") or ())})
    fields["secrets"] = ()
    return LLMExchange(**fields)


def _text(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]


def recover(location: str | os.PathLike[str], path: Path | None = None, batch: int = 1000) -> tuple[int, int]:
    """Load a spill file (by default, the store's own) into the store; returns (rows read, rows inserted).

    The file is first moved aside, so processes still spilling start a new one and no line is
    missed; it is loaded in batches (idempotent: uids decide what is already there) and kept as
    `.recovered-<time>`. A load that fails leaves `.recovering-<time>`, which the next run picks up.
    """
    own = spill_path(location)
    target = path or own
    files = sorted(own.parent.glob(own.name + ".recovering-*")) if path is None and own.parent.exists() else []
    if target.exists():
        taken = target.with_name(f"{target.name}.recovering-{time.time():.0f}")
        target.rename(taken)
        files.append(taken)
    if not files:
        return 0, 0
    read_n = inserted = 0
    sink = open_sink(location)
    try:
        for taken in files:
            rows: list[Row] = []
            for row in read(taken):
                rows.append(row)
                if len(rows) >= batch:
                    inserted += sink.write(rows)
                    read_n, rows = read_n + len(rows), []
            inserted += sink.write(rows) if rows else 0
            read_n += len(rows)
            taken.rename(taken.with_name(taken.name.replace(".recovering-", ".recovered-")))
    finally:
        sink.close()
    return read_n, inserted
