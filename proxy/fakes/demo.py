"""`tracemill demo`: the whole LLM side in a few seconds, offline.

A scripted vLLM-like upstream and the proxy run in this process on real sockets; the official
openai SDK drives a short tool-calling conversation through the proxy; then we print what was
recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from proxy.app import App
from proxy.config import Config
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


async def conversation(base_url: str, say: Any = print) -> list[dict[str, Any]]:
    """An agent loop as any user would write it: ask, run the tools it calls, ask again."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="sk-demo-0123456789abcdef")
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant. Use tools when they help."},
        {"role": "user", "content": "What's the weather in Paris and in Tokyo?"},
    ]
    first = await client.chat.completions.create(
        model="Qwen/Qwen3-30B-A3B", messages=messages, tools=TOOLS, extra_headers={"x-script-parallel": "2"}
    )
    answer = first.choices[0].message
    say(f"  assistant thinks: {getattr(answer, 'reasoning_content', '')}")
    messages.append(answer.model_dump(exclude_none=True))
    for call in answer.tool_calls or []:
        city = json.loads(call.function.arguments)["city"]
        say(f"  assistant calls {call.function.name}({city}) -> {WEATHER.get(city)}")
        messages.append({"role": "tool", "tool_call_id": call.id, "content": WEATHER.get(city, "unknown")})
    stream = await client.chat.completions.create(
        model="Qwen/Qwen3-30B-A3B", messages=messages, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    text = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    say(f"  assistant answers (streamed): {''.join(text)}")
    await client.close()
    return messages


async def run(db_path: str) -> float:
    config = Config()
    config.store.path = db_path
    config.server.port = 0
    t0 = time.perf_counter()
    async with running(ScriptedUpstream()) as upstream:
        config.llm.base_url = upstream + "/v1"
        app = App(config)
        async with running(app, uvicorn_config(app, config)) as proxy:
            print(f"tracemill demo: proxy on {proxy}, forwarding to a scripted Qwen3 at {upstream}/v1, recording to {db_path}")
            await conversation(proxy + "/s/demo/v1")
    return time.perf_counter() - t0


def main(db_path: str) -> None:
    elapsed = asyncio.run(run(db_path))
    print(f"done in {elapsed:.1f}s. Recorded exchanges:")

