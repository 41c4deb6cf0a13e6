"""JSON-RPC peeking and id restoring: the only reading the MCP relays do on the hot path."""

from __future__ import annotations

import json

from proxy.mcp.inbound.http_session import HttpSession
from proxy.mcp.jsonrpc import error_reply, id_text, peek


def test_peek_tells_requests_notifications_responses_batches_and_junk_apart():
    request = peek(b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}')
    assert (request.kind, request.id, request.method) == ("request", "7", "tools/call")
    note = peek(b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t1"}}')
    assert (note.kind, note.id, note.method, note.progress_token) == (
        "notification",
        None,
        "notifications/progress",
        '"t1"',
    )
    answer = peek(b'{"jsonrpc":"2.0","id":"7","result":{}}')
    assert (answer.kind, answer.id) == ("response", '"7"')  # the string "7" is not the number 7
    assert peek(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]').kind == "batch"
    for junk in (b"not json", b"42", b'{"jsonrpc":"2.0"}', b""):
        assert peek(junk).kind == "invalid"


def test_ids_keep_their_json_type_and_zero_is_an_id():
    assert peek(b'{"id":0,"method":"ping"}').id == "0"
    assert peek(b'{"id":"0","method":"ping"}').id == '"0"'
    assert peek(b'{"id":null,"result":{}}').id == "null"
    assert id_text("é") == '"é"' and id_text(1) == "1"


def test_progress_token_from_params_or_meta():
    meta = peek(b'{"id":1,"method":"tools/call","params":{"_meta":{"progressToken":5}}}')
    assert meta.progress_token == "5"
    assert peek(b'{"id":1,"method":"tools/call","params":{}}').progress_token is None


def test_a_huge_answer_is_peeked_at_by_its_head_without_parsing_it_whole():
    blob = "x" * (300 * 1024)
    raw = b'{"jsonrpc":"2.0","id":12,"result":{"content":[{"type":"text","text":"' + blob.encode() + b'"}]}}'
    p = peek(raw)
    assert (p.kind, p.id, p.message) == ("response", "12", None)


def test_error_reply_is_byte_exact_for_the_id_it_answers():
    for rid in ("0", '"0"', '"a\\"b"', "-3"):
        reply = error_reply(rid, "MCP server 'x' went away")
        parsed = json.loads(reply)
        assert parsed == {
            "jsonrpc": "2.0",
            "id": json.loads(rid),
            "error": {"code": -32000, "message": "MCP server 'x' went away"},
        }
        assert b'"id":' + rid.encode() + b"," in reply


async def test_stateless_ids_are_rewritten_upward_and_restored_downward():
    session = HttpSession("stateless-x", stateless=True)
    ups = [session.upstream_id(original) for original in ("0", '"0"', '"req-1"')]
    assert len(set(ups)) == 3 and all(up not in ("0", '"0"', '"req-1"') for up in ups)
    for up, original in zip(ups, ("0", '"0"', '"req-1"'), strict=True):
        raw = b'{"jsonrpc":"2.0","id":' + up.encode() + b',"result":{"content":[{"type":"text","text":"ok"}]}}'
        delivered = await session.route(raw)
        assert (
            delivered
            == b'{"jsonrpc":"2.0","id":' + original.encode() + b',"result":{"content":[{"type":"text","text":"ok"}]}}'
        )
    assert session.original_ids == {}  # each mapping is used once


async def test_ids_of_a_session_that_is_not_stateless_pass_untouched():
    session = HttpSession("abc")
    raw = b'{"jsonrpc":"2.0","id":5,"result":{}}'
    assert await session.route(raw) is None  # nothing rewritten: the raw bytes go down as they are
    assert list(session.backlog)[-1][1] == raw
