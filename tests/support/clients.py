"""Tool-calling conversations driven by the official SDKs, each returning what its client saw.

Every loop asks for the weather, runs the tool the model calls, and sends the result back. It
returns `Seen`: the conversation as the client saw it, written out by hand in canonical chat form
(system, user, assistant with its reasoning and tool calls, tool results) plus the tools, so a
test can compare it with what tracemill exported without trusting the dialect code under test.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai

SYSTEM = "You are a weather assistant. Use the tools."
QUESTION = "What's the weather in Paris?"
WEATHER = {"Paris": "18°C, light rain", "Tokyo": "24°C, clear"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "description": "City"}}, "required": ["city"]}


@dataclass
class Tool:
    """One tool the client offers, and how it runs it (locally, or through MCP)."""

    name: str
    description: str
    schema: dict[str, Any]
    run: Callable[[dict[str, Any]], Awaitable[str]]

    def chat(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.schema},
        }

    def responses(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.schema,
            "strict": False,
        }

    def anthropic(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.schema}


async def _weather(args: dict[str, Any]) -> str:
    return WEATHER.get(args.get("city"), "unknown")


GET_WEATHER = Tool("get_weather", "Weather now.", SCHEMA, _weather)


@dataclass
class Seen:
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)


async def run_tool(tool: Tool, arguments: str | dict[str, Any]) -> str:
    return await tool.run(json.loads(arguments) if isinstance(arguments, str) else arguments)


def assistant(content: str | None, reasoning: str | None, calls: list[tuple[str, str, str]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
        ]
    return message


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    """A message with what training sees: None content as "", arguments as parsed JSON."""
    out = {"role": message["role"], "content": message.get("content") or ""}
    for key in ("reasoning_content", "tool_call_id"):
        if message.get(key):
            out[key] = message[key]
    calls = message.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]
    return out


async def chat_run(base: str, streamed: bool, tool: Tool = GET_WEATHER, **headers: str) -> Seen:
    """openai SDK, Chat Completions; sends history back without reasoning, as most clients do."""
    client = openai.AsyncOpenAI(base_url=base, api_key="sk-client-0123456789", max_retries=0)
    sent: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    seen = Seen([dict(m) for m in sent], [tool.chat()])
    for _ in range(4):
        args: dict[str, Any] = {"model": "qwen", "messages": sent, "tools": [tool.chat()], "extra_headers": headers}
        if streamed:
            text, thought, calls = [], [], {}
            async for chunk in await client.chat.completions.create(**args, stream=True):
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is None:
                    continue
                text.append(delta.content or "")
                thought.append(getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None) or "")
                for c in delta.tool_calls or []:
                    call = calls.setdefault(c.index, ["", "", ""])
                    call[0] = call[0] or c.id or ""
                    call[1] = call[1] or c.function.name or ""
                    call[2] += c.function.arguments or ""
            content, reasoning, made = "".join(text) or None, "".join(thought), [tuple(c) for c in calls.values()]
        else:
            message = (await client.chat.completions.create(**args)).choices[0].message
            content = message.content
            reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
            made = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
        seen.messages.append(assistant(content, reasoning, made))
        sent.append({k: v for k, v in assistant(content, None, made).items()})
        if not made:
            break
        for call_id, _name, arguments in made:
            result = {"role": "tool", "tool_call_id": call_id, "content": await run_tool(tool, arguments)}
            sent.append(result)
            seen.messages.append(dict(result))
    await client.close()
    return seen


def _responses_turn(output: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    """The assistant turn a response's output items make, and its function calls."""
    reasoning = "".join(p.text for i in output if i.type == "reasoning" for p in i.content or [])
    text = "".join(p.text for i in output if i.type == "message" for p in i.content if p.type == "output_text")
    calls = [i for i in output if i.type == "function_call"]
    return assistant(text or None, reasoning or None, [(c.call_id, c.name, c.arguments) for c in calls]), calls


async def responses_run(
    base: str, streamed: bool, stateful: bool = False, ids: str = "completed", tool: Tool = GET_WEATHER, **headers: str
) -> Seen:
    """openai SDK, `responses.create`. `stateful` chains with previous_response_id; `ids="streamed"`
    sends back the items as streamed (`response.output_item.done`), as Codex does."""
    client = openai.AsyncOpenAI(base_url=base, api_key="sk-client-0123456789", max_retries=0)
    definition = tool.responses()
    seen = Seen(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        [{"type": "function", "function": {k: v for k, v in definition.items() if k != "type"}}],
    )
    items: list[Any] = [{"role": "user", "content": QUESTION}]
    previous, new_items = None, items
    for _ in range(4):
        args: dict[str, Any] = {
            "model": "qwen",
            "instructions": SYSTEM,
            "tools": [definition],
            "extra_headers": headers,
        }
        args.update(previous_response_id=previous, input=new_items) if stateful and previous else args.update(
            input=items
        )
        if streamed:
            done, final = [], None
            async for event in await client.responses.create(**args, stream=True):
                if event.type == "response.output_item.done":
                    done.append(event.item)
                elif event.type == "response.completed":
                    final = event.response
            assert final is not None
            output, response_id = (done if ids == "streamed" else final.output), final.id
        else:
            response = await client.responses.create(**args)
            output, response_id = response.output, response.id
        turn, calls = _responses_turn(output)
        seen.messages.append(turn)
        results = [
            {"type": "function_call_output", "call_id": c.call_id, "output": await run_tool(tool, c.arguments)}
            for c in calls
        ]
        seen.messages += [{"role": "tool", "tool_call_id": r["call_id"], "content": r["output"]} for r in results]
        items = items + [i.model_dump(exclude_none=True) for i in output] + results
        previous, new_items = response_id, results
        if not calls:
            break
    await client.close()
    return seen


async def anthropic_run(base: str, streamed: bool, tool: Tool = GET_WEATHER, **headers: str) -> Seen:
    """anthropic SDK with extended thinking and tool use; Claude Code's billing block in `system`."""
    client = anthropic.AsyncAnthropic(base_url=base, api_key="sk-ant-client-0123456789", max_retries=0)
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=9f1c2;"},
        {"type": "text", "text": SYSTEM},
    ]
    messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    seen = Seen([{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}], [tool.chat()])
    args = {
        "model": "qwen",
        "max_tokens": 2048,
        "system": system,
        "tools": [tool.anthropic()],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "extra_headers": headers,
    }
    for _ in range(4):
        if streamed:
            async with client.messages.stream(messages=messages, **args) as stream:
                answer = await stream.get_final_message()
        else:
            answer = await client.messages.create(messages=messages, **args)
        thinking = "".join(b.thinking for b in answer.content if b.type == "thinking")
        text = "".join(b.text for b in answer.content if b.type == "text")
        uses = [b for b in answer.content if b.type == "tool_use"]
        seen.messages.append(
            assistant(text or None, thinking or None, [(u.id, u.name, json.dumps(u.input)) for u in uses])
        )
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]})
        if not uses:
            break
        results = [{"type": "tool_result", "tool_use_id": u.id, "content": await run_tool(tool, u.input)} for u in uses]
        messages.append({"role": "user", "content": results})
        seen.messages += [{"role": "tool", "tool_call_id": r["tool_use_id"], "content": r["content"]} for r in results]
    await client.close()
    return seen
