"""The scripted upstream's Chat Completions side, shaped like vLLM's: `chatcmpl-` ids, reasoning under
`reasoning_content`, `reasoning` or both (vLLM during its field rename), hermes-style tool calls."""

from __future__ import annotations

import json
from typing import Any

from proxy.fakes.scripted import Ask, Call, Frames, Ids, Turn, pieces, plan, seed_of, sse, text_of
from recorder.dialects.chat_completions import PATH, REASONING_FIELDS

__all__ = ["PATH", "answer", "stream"]


def ask_of(request: dict[str, Any]) -> Ask:
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    tools = [t.get("function") or {} for t in request.get("tools") or [] if isinstance(t, dict)]
    question = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    return Ask(
        question=question,
        tools=[(fn.get("name") or "", fn.get("parameters") or {}) for fn in tools],
        after_tool=bool(messages) and messages[-1].get("role") == "tool",
        results=[str(m.get("content")) for m in messages if m.get("role") == "tool"],
        calls_before=sum(len(m.get("tool_calls") or []) for m in messages),
    )


def usage(request: dict[str, Any], turn: Turn, n: int) -> dict[str, int]:
    prompt = len(json.dumps(request.get("messages"))) // 4
    return {"prompt_tokens": prompt, "total_tokens": prompt + n * turn.tokens, "completion_tokens": n * turn.tokens}


def answer(call: Call) -> tuple[int, dict[str, Any]]:
    request, script = call.request, call.script
    ids = Ids(seed_of(request.get("messages"), request.get("tools")), script.deterministic)
    ask = ask_of(request)
    turn = plan(ask, call.parallel, ids.sample, call.truncate)
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    for name in REASONING_FIELDS if script.reasoning_field == "both" else (script.reasoning_field,):
        message[name] = turn.reasoning
    if turn.calls:
        message["tool_calls"] = [
            {
                "id": ids.call(script.call_ids, i, name, ask),
                "type": "function",
                "function": {"name": name, "arguments": args},
            }
            for i, (name, args) in enumerate(turn.calls)
        ]
    finish = "length" if turn.truncated else "tool_calls" if turn.calls else "stop"
    n = int(request.get("n") or 1)
    return 200, {
        "id": f"chatcmpl-{ids.make('id')}",
        "object": "chat.completion",
        "created": 1750000000,
        "model": request.get("model") or script.model,
        "choices": [{"index": k, "message": message, "finish_reason": finish} for k in range(n)],
        "usage": usage(request, turn, n),
    }


def stream(call: Call, completion: dict[str, Any]) -> Frames:
    """The chunks vLLM streams for `completion`: role, reasoning words, content words, tool calls, finish."""
    head = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    fields = [k for k in REASONING_FIELDS if k in completion["choices"][0]["message"]]

    def chunk(k: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**head, "choices": [{"index": k, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    for choice in completion["choices"]:
        k, message = choice["index"], choice["message"]
        yield chunk(k, {"role": "assistant", "content": ""})
        for word in pieces(message[fields[0]] if fields else ""):
            yield chunk(k, {name: word for name in fields})
        for word in pieces(message["content"] or ""):
            yield chunk(k, {"content": word})
        for t, tool_call in enumerate(message.get("tool_calls") or []):
            fn = tool_call["function"]
            yield chunk(
                k,
                {
                    "tool_calls": [
                        {
                            "index": t,
                            "id": tool_call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                },
            )
            for part in pieces(fn["arguments"], 8):
                yield chunk(k, {"tool_calls": [{"index": t, "function": {"arguments": part}}]})
        yield chunk(k, {} if message.get("tool_calls") else {"content": ""}, choice["finish_reason"])
    if (call.request.get("stream_options") or {}).get("include_usage"):
        yield sse({**head, "choices": [], "usage": completion["usage"]})
    yield sse("[DONE]")
