"""The scripted upstream's Anthropic Messages side, shaped like vLLM's `/v1/messages`: thinking with a
signature, text, tool_use blocks with `chatcmpl-tool-` ids; streamed as message_start, a ping,
content_block_start/delta/stop per block (signature_delta closing a thinking block),
message_delta with the stop reason and usage, and message_stop."""

from __future__ import annotations

import json
from typing import Any

from proxy.fakes.scripted import Ask, Call, Frames, Ids, pieces, plan, seed_of, sse, text_of
from recorder.dialects.anthropic_messages import PATH

__all__ = ["PATH", "answer", "stream"]


def ask_of(request: dict[str, Any]) -> Ask:
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    tools = [
        (t.get("name") or "", t.get("input_schema") or {})
        for t in request.get("tools") or []
        if isinstance(t, dict) and "input_schema" in t
    ]
    questions, results, after_tool, calls = [], [], False, 0
    for message in messages:
        blocks = message.get("content")
        blocks = (
            [{"type": "text", "text": blocks}]
            if isinstance(blocks, str)
            else [b for b in blocks or [] if isinstance(b, dict)]
        )
        if message.get("role") != "user":
            after_tool = False
            calls += sum(1 for b in blocks if b.get("type") == "tool_use")
            continue
        texts = [b.get("text") or "" for b in blocks if b.get("type") == "text"]
        for block in blocks:
            if block.get("type") == "tool_result":
                content = block.get("content")
                results.append(content if isinstance(content, str) else text_of(content))
        after_tool = any(b.get("type") == "tool_result" for b in blocks) and not texts
        if texts:
            questions.append(" ".join(texts))
    return Ask(questions[-1] if questions else "", tools, after_tool, results, calls)


def answer(call: Call) -> tuple[int, dict[str, Any]]:
    request, script = call.request, call.script
    if not isinstance(request.get("max_tokens"), int):
        return 400, {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        }
    ids = Ids(seed_of(request.get("system"), request.get("messages"), request.get("tools")), script.deterministic)
    ask = ask_of(request)
    turn = plan(ask, call.parallel, ids.sample, call.truncate)
    content: list[dict[str, Any]] = [{"type": "thinking", "thinking": turn.reasoning, "signature": ids.make("sig", 32)}]
    if turn.content:
        content.append({"type": "text", "text": turn.content})
    for i, (name, args) in enumerate(turn.calls):
        content.append(
            {"type": "tool_use", "id": ids.call(script.call_ids, i, name, ask), "name": name, "input": json.loads(args)}
        )
    stop = "max_tokens" if turn.truncated else "tool_use" if turn.calls else "end_turn"
    prompt = len(json.dumps([request.get("system"), request.get("messages")])) // 4
    return 200, {
        "id": f"chatcmpl-{ids.make('id')}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": request.get("model") or script.model,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": turn.tokens},
    }


def stream(call: Call, message: dict[str, Any]) -> Frames:
    """The events vLLM streams for `message`."""

    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, **fields}, kind)

    usage = message["usage"]
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 0},
    }
    yield event("message_start", message=start)
    yield event("ping")
    for index, block in enumerate(message["content"]):
        if block["type"] == "thinking":
            yield event("content_block_start", index=index, content_block={"type": "thinking", "thinking": ""})
            for word in pieces(block["thinking"]):
                yield event("content_block_delta", index=index, delta={"type": "thinking_delta", "thinking": word})
            yield event(
                "content_block_delta", index=index, delta={"type": "signature_delta", "signature": block["signature"]}
            )
        elif block["type"] == "text":
            yield event("content_block_start", index=index, content_block={"type": "text", "text": ""})
            for word in pieces(block["text"]):
                yield event("content_block_delta", index=index, delta={"type": "text_delta", "text": word})
        else:
            yield event("content_block_start", index=index, content_block={**block, "input": {}})
            for part in pieces(json.dumps(block["input"]), 8):
                yield event(
                    "content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": part}
                )
        yield event("content_block_stop", index=index)
    yield event("message_delta", delta={"stop_reason": message["stop_reason"], "stop_sequence": None}, usage=usage)
    yield event("message_stop")
