"""`tracemill demo`: the whole loop in a few seconds, offline.

A scripted vLLM-like upstream, a built-in MCP server (`get_weather`) and the proxy run in this
process on real sockets. The official openai SDK and the mcp SDK drive a short tool-calling
conversation through the proxy: the model's tool calls go to the MCP server through /mcp/weather,
so both sides are recorded and linked. The CLI then prints the episode and an exported row.
The conversation speaks Chat Completions by default; `--dialect responses` (the openai SDK's
`responses.create`, chained by `previous_response_id`), `--dialect anthropic` (the anthropic SDK
with extended thinking) or `--dialect all` (one conversation through each) show the others.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.app import App
from proxy.config import Config, MCPServerConfig
from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running, uvicorn_config

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
]
WEATHER = {"Paris": "18°C, light rain", "Tokyo": "24°C, clear"}
MODEL = "Qwen/Qwen3-30B-A3B"
Call = Callable[[str, dict[str, Any]], Awaitable[str]]


async def _local(name: str, arguments: dict[str, Any]) -> str:
    return WEATHER.get(str(arguments.get("city")), "unknown")


async def conversation(
    base_url: str, say: Any = print, mcp_url: str | None = None, dialect: str = "chat"
) -> list[dict[str, Any]]:
    """An agent loop as any user would write it: ask, run the tools it calls, ask again.

    With `mcp_url` the tools are listed from that MCP server and called there; else they run here.
    """
    agent = AGENTS[dialect]
    if mcp_url is None:
        return await agent(base_url, TOOLS, _local, say)
    from mcp import Client

    async with Client(mcp_url, mode="legacy") as mcp:
        listed = (await mcp.list_tools()).tools
        tools = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
            }
            for t in listed
        ]

        async def remote(name: str, arguments: dict[str, Any]) -> str:
            result = await mcp.call_tool(name, arguments)
            return "".join(getattr(part, "text", "") for part in result.content)

        return await agent(base_url, tools, remote, say)


async def _agent(base_url: str, tools: list[dict[str, Any]], call: Call, say: Any) -> list[dict[str, Any]]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="sk-demo-0123456789abcdef")
    create: Any = client.chat.completions.create  # plain dicts in, as agents write them
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant. Use tools when they help."},
        {"role": "user", "content": "What's the weather in Paris and in Tokyo?"},
    ]
    first = await create(model=MODEL, messages=messages, tools=tools, extra_headers={"x-script-parallel": "2"})
    answer = first.choices[0].message
    say(f"  assistant thinks: {getattr(answer, 'reasoning_content', '')}")
    messages.append(answer.model_dump(exclude_none=True))
    for tool_call in answer.tool_calls or []:
        fn = tool_call.function
        result = await call(fn.name, json.loads(fn.arguments))
        say(f"  assistant calls {fn.name}({json.loads(fn.arguments).get('city')}) -> {result}")
        messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": result})
    stream = await create(
        model=MODEL, messages=messages, tools=tools, stream=True, stream_options={"include_usage": True}
    )
    text = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    say(f"  assistant answers (streamed): {''.join(text)}")
    await client.close()
    return messages


async def _responses_agent(base_url: str, tools: list[dict[str, Any]], call: Call, say: Any) -> list[dict[str, Any]]:
    """The same task through `responses.create`; the second call names the first response."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="sk-demo-0123456789abcdef")
    create: Any = client.responses.create
    defined = [{"type": "function", **t["function"]} for t in tools]
    first = await create(
        model=MODEL, instructions="Use tools when they help.", input="What's the weather in Paris?", tools=defined
    )
    say(
        f"  assistant thinks: {''.join(p.text for i in first.output if i.type == 'reasoning' for p in i.content or [])}"
    )
    outputs = []
    for item in (i for i in first.output if i.type == "function_call"):
        arguments = json.loads(item.arguments)
        result = await call(item.name, arguments)
        say(f"  assistant calls {item.name}({arguments.get('city')}) -> {result}")
        outputs.append({"type": "function_call_output", "call_id": item.call_id, "output": result})
    stream = await create(model=MODEL, previous_response_id=first.id, input=outputs, tools=defined, stream=True)
    text = [event.delta async for event in stream if event.type == "response.output_text.delta"]
    say(f"  assistant answers (streamed): {''.join(text)}")
    await client.close()
    return outputs


async def _anthropic_agent(base_url: str, tools: list[dict[str, Any]], call: Call, say: Any) -> list[dict[str, Any]]:
    """The same task through the anthropic SDK, with extended thinking, as Claude Code sends it."""
    from anthropic import AsyncAnthropic

    client = AsyncAnthropic(base_url=base_url.removesuffix("/v1"), api_key="sk-demo-0123456789abcdef")
    defined = [
        {"name": f["name"], "description": f["description"], "input_schema": f["parameters"]}
        for f in (t["function"] for t in tools)
    ]
    args: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": defined,
    }
    create: Any = client.messages.create
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = await create(messages=messages, **args)
    say(f"  assistant thinks: {''.join(b.thinking for b in first.content if b.type == 'thinking')}")
    results = []
    for use in (b for b in first.content if b.type == "tool_use"):
        result = await call(use.name, use.input)
        say(f"  assistant calls {use.name}({use.input.get('city')}) -> {result}")
        results.append({"type": "tool_result", "tool_use_id": use.id, "content": result})
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": results},
    ]
    stream_of: Any = client.messages.stream
    async with stream_of(messages=messages, **args) as events:
        text = [t async for t in events.text_stream]
    say(f"  assistant answers (streamed): {''.join(text)}")
    await client.close()
    return messages


AGENTS = {"chat": _agent, "responses": _responses_agent, "anthropic": _anthropic_agent}
NAMES = {"chat": "Chat Completions", "responses": "Responses", "anthropic": "Anthropic Messages"}


async def run(db_path: str, dialects: tuple[str, ...] = ("chat",)) -> float:
    from proxy.fakes.weather_mcp import http_app

    config = Config()
    config.store.path = db_path
    config.server.port = 0
    config.ui.enabled = False
    t0 = time.perf_counter()
    async with running(ScriptedUpstream()) as upstream, running(http_app()) as weather:
        config.llm.base_url = upstream + "/v1"
        config.mcp_servers["weather"] = MCPServerConfig(name="weather", url=weather + "/mcp")
        app = App(config)
        async with running(app, uvicorn_config(app, config)) as proxy:
            print(
                f"tracemill demo: proxy on {proxy}, forwarding to a scripted Qwen3 at {upstream}/v1 and to the "
                f"built-in MCP server 'weather' at {proxy}/mcp/weather; recording to {db_path}"
            )
            for dialect in dialects:
                key = "demo" if dialect == "chat" else f"demo-{dialect}"
                if len(dialects) > 1:
                    print(f"{NAMES[dialect]}:")
                await conversation(proxy + f"/s/{key}/v1", mcp_url=proxy + f"/s/{key}/mcp/weather", dialect=dialect)
    return time.perf_counter() - t0


def main(db_path: str, dialects: tuple[str, ...] = ("chat",)) -> None:
    elapsed = asyncio.run(run(db_path, dialects))
    print(f"done in {elapsed:.1f}s.")
