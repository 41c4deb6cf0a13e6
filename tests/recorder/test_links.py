"""Linking edge cases: identical parallel calls, retries, calls that never reached MCP, prefixes."""

from __future__ import annotations

import json

from recorder import open_reader
from recorder.events import MCPMessage
from recorder.ingest.event_rows import build
from recorder.ingest.mcp_rows import Pairing
from recorder.ingest.redact import Redactor
from recorder.store import write_rows
from tests.support.episode_data import add_exchange, assistant
from tests.support.store_rows import rows as stored

U = {"role": "user", "content": "go"}


def mcp_call(db, rpc_id: int, tool: str, args: dict, at: float, error: bool = False, server: str = "web") -> str:
    pairing = Pairing()
    request = MCPMessage(
        server,
        "c2s",
        "http",
        json.dumps(
            {"jsonrpc": "2.0", "id": rpc_id, "method": "tools/call", "params": {"name": tool, "arguments": args}}
        ).encode(),
        session="conn",
        connection="conn",
        at=at,
    )
    result = {"content": [{"type": "text", "text": f"{tool} {args}"}], "isError": error}
    response = MCPMessage(
        server,
        "s2c",
        "http",
        json.dumps({"jsonrpc": "2.0", "id": rpc_id, "result": result}).encode(),
        session="conn",
        connection="conn",
        at=at + 0.1,
    )
    rows = build(request, Redactor(), pairing=pairing) + build(response, Redactor(), pairing=pairing)
    write_rows(str(db), rows)
    return request.uid


def linked(db) -> dict[str, tuple[str, str]]:
    with open_reader(str(db)) as reader:
        reader.refresh()
    return {r["mcp_uid"]: (r["tool_call_id"], r["method"]) for r in stored(db, "SELECT * FROM links")}


def test_identical_parallel_calls_pair_off_in_order_and_a_retry_is_marked(db):
    same = {"url": "https://x"}
    add_exchange(
        db,
        [U],
        assistant(None, "r", [("t1", "mcp__web__fetch", same), ("t2", "mcp__web__fetch", same)]),
        at=10,
        duration=1,
    )
    first = mcp_call(db, 1, "fetch", same, at=11.2)
    second = mcp_call(db, 2, "fetch", same, at=11.3, error=True)
    retry = mcp_call(db, 3, "fetch", same, at=12)
    got = linked(db)
    assert got[first] == ("t1", "order") and got[second] == ("t2", "order")
    assert got[retry] == ("t2", "retry")


def test_calls_outside_the_window_or_never_asked_for_stay_unlinked(db):
    add_exchange(
        db,
        [U],
        assistant(None, "r", [("t1", "web_search", {"q": "a"}), ("t2", "web_search", {"q": "never run"})]),
        at=10,
        duration=1,
    )
    result = {"role": "tool", "tool_call_id": "t1", "content": "done"}
    add_exchange(
        db,
        [
            U,
            assistant(None, None, [("t1", "web_search", {"q": "a"}), ("t2", "web_search", {"q": "never run"})]),
            result,
        ],
        assistant("ok"),
        at=20,
    )
    ok = mcp_call(db, 1, "search", {"q": "a"}, at=11.5)
    late = mcp_call(db, 2, "search", {"q": "a"}, at=30)  # after the result went back: not this tool call
    other = mcp_call(db, 3, "search", {"q": "b"}, at=11.6)  # arguments the LLM never asked for
    got = linked(db)
    assert got[ok] == ("t1", "args+window") and late not in got and other not in got
    assert "t2" not in {v[0] for v in got.values()}  # a tool call that never reached MCP has no link


def test_prefixed_names_match(db):
    for n, name in enumerate(["web.fetch", "web__fetch", "fetch"]):
        add_exchange(
            db,
            [{"role": "user", "content": f"go {n}"}],
            assistant(None, None, [(f"id{n}", name, {"n": n})]),
            at=10 * (n + 1),
        )
    uids = [mcp_call(db, n, "fetch", {"n": n}, at=10 * (n + 1) + 1) for n in range(3)]
    got = linked(db)
    assert [got[u][0] for u in uids] == ["id0", "id1", "id2"]
