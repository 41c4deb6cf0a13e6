"""SSE answers an MCP relay passed through untouched, split into messages here in the writer, so
the relay's hot path only copies bytes. Each stream keeps its parser (in `Pairing.streams`) across
parts; parts arrive in order through the writer's queue (a gap, which only an overflow could
cause, restarts it)."""

from __future__ import annotations

import logging
from collections import OrderedDict

from recorder.events import MCPMessage, MCPStreamPart
from recorder.ingest import Row
from recorder.ingest.mcp_rows import Pairing, mcp_rows
from recorder.ingest.redact import Redactor
from recorder.sse import SSEParser

log = logging.getLogger("tracemill.recorder")
OPEN_STREAMS = 10_000  # parsers kept for unfinished streams; the oldest is dropped past this


def _parser(part: MCPStreamPart, streams: OrderedDict[str, tuple[SSEParser, int]]) -> SSEParser:
    """The stream's parser if this is the part it expects next, else a fresh one."""
    state = streams.pop(part.stream, None)
    if state is not None and state[1] == part.seq:
        return state[0]
    if state is not None or part.seq != 0:
        log.warning("MCP server %r: parts of an SSE answer were lost or reordered; its split restarts", part.server)
    return SSEParser(raw=True)


def stream_rows(part: MCPStreamPart, redactor: Redactor, pairing: Pairing) -> list[Row]:
    """The rows of every message that this part completes, stamped with the part's arrival time."""
    streams = pairing.streams
    parser = _parser(part, streams)
    events = list(parser.feed(part.chunk))
    if part.end:
        events.extend(parser.close())
    else:  # kept, most recently fed last; the least recently fed go past OPEN_STREAMS
        streams[part.stream] = (parser, part.seq + 1)
        while len(streams) > OPEN_STREAMS:
            streams.popitem(last=False)
    rows: list[Row] = []
    for event in events:
        if event.event == "message" and event.raw and not event.raw.isspace():
            message = MCPMessage(
                part.server,
                "s2c",
                part.inbound,
                event.raw,
                part.session,
                part.connection,
                at=part.at,
                secrets=part.secrets,
            )
            rows.extend(mcp_rows(message, redactor, pairing))
    return rows
