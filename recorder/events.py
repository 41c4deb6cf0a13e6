"""What a relay hands the recorder: copies of wire bytes plus timestamps, nothing parsed.

Parsing waits for the writer, so building an event costs the hot path almost nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field


def new_uid() -> str:
    """A sortable unique id: 48 bits of milliseconds then 80 random bits, hex."""
    return f"{int(time.time() * 1000):012x}{os.urandom(10).hex()}"


@dataclass(slots=True)
class LLMExchange:
    """One HTTP exchange on the LLM side (chat completion or any other /v1 path)."""

    method: str
    path: str
    upstream_url: str
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    started_at: float = field(default_factory=time.time)
    uid: str = field(default_factory=new_uid)
    session: str | None = None
    client: str | None = None
    status: int | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_chunks: list[bytes] = field(default_factory=list)
    ttfb_ms: float | None = None
    duration_ms: float | None = None
    error: str | None = None  # what the relay saw go wrong (unreachable, timeout, upstream died mid-response)
    incomplete: bool = False  # the relay stopped before the upstream's body ended (client gone or upstream died)
    # Cheap facts for the writer, which decides completeness from the reassembled answer.
    client_gone: bool = False  # the client disconnected before the upstream's body ended
    body_truncated: bool = False  # a body passed [store] max_body_bytes: the record of it stops there
    # Values to scrub from bodies before anything is written; never stored themselves.
    secrets: tuple[str, ...] = ()
    # Set by [llm] capture_tokens: what was asked of the upstream; response_chunks then hold its raw bytes, ids included.
    tokens: TokenCapture | None = None


@dataclass(slots=True)
class TokenCapture:
    """What token capture changed on one exchange (recorder/ingest/token_rows.py reads it)."""

    kind: str  # "chat" or "completions" (recorder/dialects/token_ids.py)
    injected: tuple[str, ...]  # the fields tracemill added to the request; () when the client asked itself
    refused: str | None = None  # the upstream refused them, so the request went again as the client sent it


@dataclass(slots=True)
class MCPMessage:
    """One JSON-RPC message (or batch) seen by an MCP relay, in either direction."""

    server: str
    direction: str  # "c2s" (client to server) or "s2c"
    inbound: str  # the way in, stored as `transport`: "http", "sse" or "stdio" (config's transport is the way out)
    body: bytes
    session: str | None = None  # the session key (/s/<key> or a session header), else the connection
    connection: str | None = None  # one client link: its Mcp-Session-Id, SSE session id or wrap-<pid>
    at: float = field(default_factory=time.time)
    uid: str = field(default_factory=new_uid)
    secrets: tuple[str, ...] = ()


@dataclass(slots=True)
class MCPStreamPart:
    """Consecutive raw bytes of one SSE answer an MCP relay passed through untouched; the writer,
    not the relay, splits them into messages (recorder/ingest/mcp_streams.py)."""

    server: str
    inbound: str  # the way in, as in MCPMessage
    stream: str  # unique per answer; parts of one stream carry seq 0, 1, 2…
    seq: int
    chunk: bytes
    end: bool = False  # the last part: flush what is left
    session: str | None = None
    connection: str | None = None
    at: float = field(default_factory=time.time)
    secrets: tuple[str, ...] = ()
