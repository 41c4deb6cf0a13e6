"""The acceptance walk over every upstream transport, every way in and both protocol eras:
what the client sees equals a direct connection, and every message is in the store, in order."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from proxy.config import MCPServerConfig
from tests.support.mcp_harness import (
    answer_elicitation,
    http_server,
    mcp_proxy,
    py_http_cmd,
    py_stdio,
    scenario,
    wrap_params,
)

pytestmark = pytest.mark.slow  # real processes, models or many subprocesses: `-m "not slow"` skips them


async def walk(target: Any, mode: str) -> dict[str, Any]:
    async with Client(target, mode=mode, elicitation_callback=answer_elicitation) as client:
        seen = await scenario(client)
        seen["protocol"] = client.protocol_version
        return seen


def recorded(db: Any, server: str, transport: str) -> list[Any]:
    return db.rows("SELECT * FROM mcp_messages WHERE server = ? AND transport = ? ORDER BY id", (server, transport))


def check_store(rows: list[Any], mode: str) -> None:
    requests = [r for r in rows if r["direction"] == "c2s" and r["kind"] == "request"]
    methods = [r["method"] for r in requests]
    first = "initialize" if mode == "legacy" else "server/discover"
    assert methods[0] == first
    for expected in ("tools/list", "tools/call", "resources/list", "resources/read", "prompts/list", "prompts/get"):
        assert expected in methods
    assert methods.count("tools/call") >= 4
    by_uid = {r["uid"]: r for r in rows}
    answers = {r["reply_to"]: r for r in rows if r["reply_to"]}
    for request in requests:
        answer = answers.get(request["uid"])
        assert answer is not None, f"no recorded answer to {request['method']}"
        assert answer["id"] > request["id"] and answer["latency_ms"] >= 0  # stored after its request
        assert by_uid[answer["reply_to"]]["rpc_id"] == answer["rpc_id"]
    assert sum(1 for r in rows if r["method"] == "notifications/progress") == 3
    if mode == "legacy":
        (ask,) = [r for r in rows if r["method"] == "elicitation/create" and r["kind"] == "request"]
        assert ask["direction"] == "s2c" and answers[ask["uid"]]["direction"] == "c2s"
    else:
        assert any('"inputRequests"' in r["body"] for r in rows)  # input_required, then a retry
        assert any('"requestState"' in r["body"] and r["direction"] == "c2s" for r in rows)


# Storage is the same whatever the transport: PostgreSQL runs the HTTP upstream (proxy and wrap both write).
BACKENDS_AND_UPSTREAMS = [("sqlite", "stdio"), ("sqlite", "http"), ("sqlite", "sse"), ("postgres", "http")]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(("db", "upstream"), BACKENDS_AND_UPSTREAMS, indirect=["db"])
async def test_every_way_in_equals_a_direct_connection(db, upstream, mode):
    if upstream == "stdio":
        config = py_stdio("py")
        direct: Any = StdioServerParameters(command=config.command, args=config.args, cwd=config.cwd)
        wrapped = wrap_params(db, "py", "--", config.command, *config.args)
        ctx = None
    else:
        ctx = http_server(py_http_cmd(upstream), "/mcp" if upstream == "http" else "/sse")
    if ctx is not None:
        url = await ctx.__aenter__()
        config = MCPServerConfig(name="py", url=url, transport=upstream)
        direct = url if upstream == "http" else sse_client(url)
        wrapped = wrap_params(db, "py", "--url", url, *(["--sse"] if upstream == "sse" else []))
    try:
        baseline = await walk(direct, mode)
        assert baseline["elicit"]["content"][0]["text"].startswith("action=accept color=blue")
        async with mcp_proxy(db, config) as (proxy, app):
            assert await walk(f"{proxy}/mcp/py", mode) == baseline
            assert await walk(f"{proxy}/s/run-7/mcp/py", mode) == baseline
            if mode == "legacy":
                assert await walk(sse_client(f"{proxy}/mcp/py/sse"), mode) == baseline
            await app.recorder.flush()
        assert await walk(wrapped, mode) == baseline
    finally:
        if ctx is not None:
            await ctx.__aexit__(None, None, None)
    rows = recorded(db, "py", "http")
    keyed = [r for r in rows if r["session"] == "run-7"]
    check_store(keyed, mode)
    plain = [r for r in rows if r["session"] != "run-7"]
    check_store([r for r in plain if r["connection"] == plain[0]["connection"]], mode)
    check_store(recorded(db, "py", "stdio"), mode)
    if mode == "legacy":
        check_store(recorded(db, "py", "sse"), mode)
    names = {r[0] for r in db.rows("SELECT name FROM tools JOIN server_tools USING (hash) WHERE server = 'py'")}
    assert {"echo", "get-sum", "ask-color"} <= names
    assert db.count("tools") == len(baseline["tools"])  # stored once each
