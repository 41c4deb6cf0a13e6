"""`tracemill demo`: the whole loop in a few seconds, offline.

A scripted vLLM-like upstream, a built-in MCP server (`get_weather`) and the proxy run in this
process on real sockets. The official openai SDK and the mcp SDK drive a short tool-calling
conversation through the proxy: the model's tool calls go to the MCP server through /mcp/weather,
so both sides are recorded and linked. The CLI then prints the episode and an exported row.
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


async def conversation(base_url: str, say: Any = print, mcp_url: str | None = None) -> list[dict[str, Any]]:
    """An agent loop as any user would write it: ask, run the tools it calls, ask again.

    With `mcp_url` the tools are listed from that MCP server and called there; else they run here.
    """
    if mcp_url is None:
        return await _agent(base_url, TOOLS, _local, say)
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

        return await _agent(base_url, tools, remote, say)


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


async def run(db_path: str) -> float:
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
            await conversation(proxy + "/s/demo/v1", mcp_url=proxy + "/s/demo/mcp/weather")
    return time.perf_counter() - t0


def main(db_path: str) -> None:
    elapsed = asyncio.run(run(db_path))
    print(f"done in {elapsed:.1f}s.")
