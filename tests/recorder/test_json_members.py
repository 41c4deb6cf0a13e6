"""The linear top-level scan used for messages json.loads refuses."""

from __future__ import annotations

from proxy.mcp.jsonrpc import peek
from recorder.json_members import first_byte, members


def test_members_finds_top_level_values_past_deep_nesting_and_tricky_strings():
    raw = (
        b' {"jsonrpc":"2.0", "id" : 12 , "result":'
        + b"[" * 3000
        + b'{"id":9,"s":"a,}\\""}'
        + b"]" * 3000
        + b', "method":"x"}'
    )
    spans = members(raw)
    assert spans is not None
    assert {k: raw[s:e][:5] for k, (s, e) in spans.items()} == {
        "jsonrpc": b'"2.0"',
        "id": b"12",
        "result": b"[[[[[",
        "method": b'"x"',
    }
    assert members(b"[1]") is None and members(b'{"a":1') is None and members(b"{}") == {}
    assert first_byte(b"  \n[1]") == b"["


def test_peek_routes_messages_json_loads_refuses():
    deep = peek(b'{"jsonrpc":"2.0","id":3,"result":' + b"[" * 2000 + b"]" * 2000 + b"}")
    assert (deep.kind, deep.id) == ("response", "3")
    huge = peek(b'{"jsonrpc":"2.0","id":' + b"7" * 5000 + b',"method":"tools/call","params":{}}')
    assert (huge.kind, huge.id, huge.method) == ("request", "7" * 5000, "tools/call")
    assert peek(b"[" * 5000).kind == "batch"
