"""SSE answers passed through the MCP relay as raw parts and split into messages in the writer:
whatever the chunking and line endings, the recorded messages are the events a parser sees."""

from __future__ import annotations

import json
from types import SimpleNamespace

from proxy.mcp.inbound.http_relay import PART_BYTES, SsePassThrough
from recorder.events import MCPStreamPart
from recorder.ingest.mcp_rows import Pairing
from recorder.ingest.mcp_streams import stream_rows
from recorder.ingest.redact import Redactor
from recorder.sse import parse_all


class Parts:
    def __init__(self) -> None:
        self.got: list[MCPStreamPart] = []

    def record(self, part: MCPStreamPart) -> None:
        self.got.append(part)


def through_relay(stream: bytes, size: int) -> list[MCPStreamPart]:
    recorder = Parts()
    relay = SimpleNamespace(server=SimpleNamespace(name="s"), recorder=recorder, _client_secrets={})
    passing = SsePassThrough(relay, "sess", "conn")  # type: ignore[arg-type]
    for start in range(0, len(stream), size):
        passing.add(stream[start : start + size])
    passing.end()
    return recorder.got


def messages(parts: list[MCPStreamPart]) -> list[str]:
    pairing, redactor = Pairing(), Redactor()
    rows = [row for part in parts for row in stream_rows(part, redactor, pairing)]
    assert pairing.streams == {}  # the ended stream's parser is gone
    return [row["body"] for table, row in rows if table == "mcp_messages"]


def test_any_chunking_and_line_ending_records_the_same_messages():
    bodies = [json.dumps({"jsonrpc": "2.0", "id": n, "result": {"n": n}}) for n in range(4)]
    stream = (
        f"event: message\r\ndata: {bodies[0]}\r\n\r\n: keep-alive\n\nid: 7\ndata: {bodies[1]}\n\n"
        f"data: {bodies[2]}\r\rdata: {bodies[3]}\r\n\n"
    ).encode()
    expected = [e.data for e in parse_all([stream]) if e.event == "message"]
    assert expected == bodies
    for size in (1, 2, 3, 7, 64, len(stream)):
        parts = through_relay(stream, size)
        assert [p.seq for p in parts] == list(range(len(parts))) and parts[-1].end
        assert messages(parts) == bodies, size


def test_a_huge_event_goes_in_bounded_parts_and_comes_out_whole():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": "x" * (3 * PART_BYTES)}})
    parts = through_relay(f"data: {body}\n\n".encode(), 1 << 16)
    assert len(parts) >= 3 and max(len(p.chunk) for p in parts) <= PART_BYTES + (1 << 16)
    assert messages(parts) == [body]


def test_a_lost_part_restarts_the_split_instead_of_gluing_messages():
    one, three = '{"jsonrpc":"2.0","id":1,"result":{}}', '{"jsonrpc":"2.0","id":3,"result":{}}'
    chunks = [f"data: {one}\n\n", 'data: {"jsonrpc":"2.0","id":2,', f'"result":{{}}}}\n\ndata: {three}\n\n']
    parts = [MCPStreamPart("s", "http", "st", n, c.encode(), n == 2) for n, c in enumerate(chunks)]
    assert messages([parts[0], parts[2]]) == [one, three]  # part 1 lost: message 2 is dropped, not glued


def test_parts_spilled_under_pressure_come_back_as_messages(tmp_path):
    from recorder.store import spill

    body = '{"jsonrpc":"2.0","id":1,"result":{"token":"tok-secret-12345"}}'
    parts = through_relay(f"data: {body}\n\n".encode(), 7)
    for part in parts:
        part.secrets = ("tok-secret-12345",)
    path = tmp_path / "x.spill.jsonl"
    spill.append_events(path, parts, Redactor())
    assert "tok-secret-12345" not in path.read_text()
    bodies = [row["body"] for table, row in spill.read(path) if table == "mcp_messages"]
    assert bodies == [body.replace("tok-secret-12345", "[REDACTED]")]
