"""MCP calls link to the LLM tool calls that asked for them in every dialect, through `tracemill serve`.

The agent lists the MCP server's tools, offers them to the model, and runs each call through
tracemill's MCP relay. A Responses client that sends back the streamed ids (Codex does) links by
those ids: a turn's tool-call ids are the set the next request carries.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable

import pytest
from mcp import Client

from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from recorder import open_reader
from tests.support.clients import Seen, Tool, anthropic_run, chat_run, responses_run
from tests.support.mcp_harness import ROOT
from tests.support.serving import start_serve

RUNS: dict[str, Callable[[str, str, Tool], Awaitable[Seen]]] = {
    "chat": lambda proxy, prefix, tool: chat_run(f"{proxy}{prefix}/v1", True, tool),
    "responses-streamed-ids": lambda proxy, prefix, tool: responses_run(
        f"{proxy}{prefix}/v1", True, False, "streamed", tool
    ),
    "responses-stateful": lambda proxy, prefix, tool: responses_run(
        f"{proxy}{prefix}/v1", False, True, "completed", tool
    ),
    "anthropic": lambda proxy, prefix, tool: anthropic_run(f"{proxy}{prefix}", True, tool),
}


@pytest.mark.parametrize("client", list(RUNS))
async def test_mcp_calls_link_to_the_tool_call_ids_the_client_carried(tmp_path, client):
    config = tmp_path / "proxy.toml"
    config.write_text(
        f"[mcp.servers.py]\ncommand = {json.dumps(sys.executable)}\n"
        f'args = ["-m", "tests.support.mcp_servers.pyserver", "stdio"]\ncwd = {json.dumps(str(ROOT))}\n'
    )
    db = tmp_path / "agent.db"
    async with running(ScriptedUpstream()) as upstream:
        proc, proxy = start_serve(db, upstream + "/v1", config=config)
        try:
            async with Client(f"{proxy}/mcp/py", mode="legacy") as mcp:
                echo = next(t for t in (await mcp.list_tools()).tools if t.name == "echo")

                async def through_mcp(args: dict) -> str:
                    return (await mcp.call_tool("echo", args)).content[0].text

                seen = await RUNS[client](
                    proxy, "", Tool("echo", echo.description or "", echo.input_schema, through_mcp)
                )
        finally:
            proc.terminate()
            proc.wait(10)
    carried = [c["id"] for m in seen.messages for c in m.get("tool_calls") or []]
    assert carried and all(m["content"].startswith("Echo: ") for m in seen.messages if m["role"] == "tool")
    if client == "responses-streamed-ids":
        assert all(i.startswith("call_") for i in carried)  # vLLM's streamed ids, not the completed chatcmpl-tool- ones
    with open_reader(db) as reader:
        (listed,) = reader.episodes()
        episode = reader.episode(listed["id"])
        assert episode is not None
        linked = reader.links(episode.exchange_ids)
    assert [c["id"] for m in episode.messages for c in m.get("tool_calls") or []] == carried
    for message in (m for m in seen.messages if m["role"] == "tool"):
        link = linked[message["tool_call_id"]]
        assert link["server"] == "py" and link["method"] == "args+window"
        assert link["result"]["content"][0]["text"] == message["content"]
