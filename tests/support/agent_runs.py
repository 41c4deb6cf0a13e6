"""The OpenAI Agents SDK with a function tool, on either model class, returning what it saw.

Tracing is off (no network). `Seen` is built from the run's own items: the reasoning, tool calls
(call ids and arguments), tool outputs and final message the agent handled.
"""

from __future__ import annotations

from typing import Any

import openai
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, RunConfig, Runner, function_tool
from agents.items import MessageOutputItem, ReasoningItem, ToolCallItem, ToolCallOutputItem
from agents.tracing import set_tracing_disabled

from tests.support.clients import QUESTION, SYSTEM, WEATHER, Seen

set_tracing_disabled(True)


@function_tool
def get_weather(city: str) -> str:
    """Weather now in a city."""
    return WEATHER.get(city, "unknown")


def _reasoning(raw: Any) -> str:
    parts = [p.text for p in getattr(raw, "content", None) or []] or [s.text for s in raw.summary or []]
    return "".join(parts)


async def agent_run(base: str, model_class: str, streamed: bool) -> Seen:
    client = openai.AsyncOpenAI(base_url=base, api_key="sk-agent-0123456789", max_retries=0)
    model = (OpenAIResponsesModel if model_class == "responses" else OpenAIChatCompletionsModel)("qwen", client)
    agent = Agent(name="weather", instructions=SYSTEM, tools=[get_weather], model=model)
    config = RunConfig(tracing_disabled=True)
    if streamed:
        run: Any = Runner.run_streamed(agent, QUESTION, run_config=config)
        async for _ in run.stream_events():
            pass
    else:
        run = await Runner.run(agent, QUESTION, run_config=config)
    tool = get_weather
    seen = Seen(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.params_json_schema,
                    "strict": tool.strict_json_schema,
                },
            }
        ],
    )
    turn: dict[str, Any] | None = None
    for item in run.new_items:
        if isinstance(item, ToolCallOutputItem):
            turn = None
            raw = item.raw_item
            seen.messages.append({"role": "tool", "tool_call_id": raw["call_id"], "content": str(raw["output"])})
            continue
        if turn is None:
            turn = {"role": "assistant", "content": None}
            seen.messages.append(turn)
        if isinstance(item, ReasoningItem):
            turn["reasoning_content"] = _reasoning(item.raw_item)
        elif isinstance(item, ToolCallItem):
            raw = item.raw_item
            turn.setdefault("tool_calls", []).append(
                {"id": raw.call_id, "type": "function", "function": {"name": raw.name, "arguments": raw.arguments}}
            )
        elif isinstance(item, MessageOutputItem):
            turn["content"] = "".join(p.text for p in item.raw_item.content if p.type == "output_text")
    await client.close()
    return seen
