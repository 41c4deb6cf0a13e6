"""End to end: an agent (openai SDK + mcp SDK) through `tracemill serve`, then episodes and links."""

from __future__ import annotations

import json
import sys

import pytest
from mcp import Client
from openai import AsyncOpenAI

from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from recorder import open_reader
from tests.support.mcp_harness import ROOT
from tests.support.serving import start_serve


async def agent(llm_url: str, mcp_url: str) -> tuple[list[dict], list[str]]:
    """A plain agent loop. It sends history back without reasoning, as many clients do."""
    async with Client(mcp_url, mode="legacy") as mcp:
        listed = (await mcp.list_tools()).tools
        tools = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
            }
            for t in listed
        ]
        llm = AsyncOpenAI(base_url=llm_url, api_key="sk-agent-key-123456")
        messages: list[dict] = [
            {"role": "system", "content": "Use the tools."},
            {"role": "user", "content": "Echo two things for me."},
        ]
        first = (
            (
                await llm.chat.completions.create(
                    model="qwen", messages=messages, tools=tools, extra_headers={"x-script-parallel": "2"}
                )
            )
            .choices[0]
            .message
        )
        reasoning = [first.reasoning_content]
        messages.append(first.model_dump(exclude_none=True, exclude={"reasoning_content"}))
        for call in first.tool_calls:
            result = await mcp.call_tool(call.function.name, json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content[0].text})
        stream = await llm.chat.completions.create(model="qwen", messages=messages, tools=tools, stream=True)
        text, thought = [], []
        async for chunk in stream:
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta and delta.content:
                text.append(delta.content)
            if delta and getattr(delta, "reasoning_content", None):
                thought.append(delta.reasoning_content)
        messages.append({"role": "assistant", "content": "".join(text)})
        reasoning.append("".join(thought))
        await llm.close()
        return messages, reasoning


@pytest.mark.parametrize("keyed", [True, False], ids=["session-key", "no-key"])
async def test_episode_equals_what_the_client_saw_and_mcp_calls_link_to_their_tool_calls(db, keyed):
    config = db.folder / "proxy.toml"
    config.write_text(
        f"[mcp.servers.py]\ncommand = {json.dumps(sys.executable)}\n"
        f'args = ["-m", "tests.support.mcp_servers.pyserver", "stdio"]\ncwd = {json.dumps(str(ROOT))}\n'
    )
    async with running(ScriptedUpstream()) as upstream:
        proc, proxy = start_serve(db, upstream + "/v1", config=config)
        try:
            prefix = f"{proxy}/s/run-1" if keyed else proxy
            seen, reasoning = await agent(prefix + "/v1", prefix + "/mcp/py")
        finally:
            proc.terminate()
            proc.wait(10)
    reader = open_reader(str(db))
    (episode_id,) = [e["id"] for e in reader.episodes()]
    episode = reader.episode(episode_id)
    assert episode.session == ("run-1" if keyed else None)
    expected = [dict(m) for m in seen]
    expected[2]["reasoning_content"], expected[5]["reasoning_content"] = reasoning
    got = [{k: v for k, v in m.items() if v is not None} for m in episode.messages]
    want = [{k: v for k, v in m.items() if v is not None} for m in expected]
    assert got[:5] == want[:5]
    assert got[5]["content"] == want[5]["content"] and got[5]["reasoning_content"] == reasoning[1]
    calls = seen[2]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["echo", "echo"]  # two parallel calls to the same tool
    linked = reader.links(episode.exchange_ids)
    reader.close()
    for call, tool_message in zip(calls, seen[3:5], strict=True):
        link = linked[call["id"]]
        assert link["server"] == "py" and link["latency_ms"] > 0
        assert (
            link["result"]["content"][0]["text"]
            == tool_message["content"]
            == f"Echo: {json.loads(call['function']['arguments'])['message']}"
        )
        assert link["method"] == ("session+args" if keyed else "args+window")
