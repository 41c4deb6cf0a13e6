"""The scripted upstream's Responses side, shaped like vLLM's simple (non-harmony) path.

Like vLLM, the items it streams get other ids than the ones `response.completed` carries (bare
uuids and `call_` call ids while streaming; `rs_`/`msg_`/`fc_` ids and `chatcmpl-tool-` call ids
when complete), unless `Script.stream_ids_differ` is off. `previous_response_id` continues a
response this upstream answered earlier (vLLM with its store enabled); an unknown one is a 404.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from proxy.fakes.scripted import Ask, Call, Frames, Ids, pieces, plan, seed_of, sse, text_of
from recorder.dialects.responses import PATH

__all__ = ["PATH", "answer", "stream"]
_STORE = 10_000  # responses remembered for previous_response_id


def ask_of(request: dict[str, Any], earlier: Ask | None) -> Ask:
    items = request.get("input")
    items = [{"type": "message", "role": "user", "content": items}] if isinstance(items, str) else items or []
    items = [i for i in items if isinstance(i, dict)]
    tools = [
        (t.get("name") or "", t.get("parameters") or {})
        for t in request.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    questions = [text_of(i.get("content")) for i in items if i.get("role") == "user"]
    outputs = [i.get("output") for i in items if i.get("type") == "function_call_output"]
    return Ask(
        question=questions[-1] if questions else (earlier.question if earlier else ""),
        tools=tools,
        after_tool=bool(items) and items[-1].get("type") == "function_call_output",
        results=(earlier.results if earlier else []) + [o if isinstance(o, str) else json.dumps(o) for o in outputs],
        calls_before=(earlier.calls_before if earlier else 0)
        + sum(1 for i in items if i.get("type") == "function_call"),
    )


def answer(call: Call) -> tuple[int, dict[str, Any]]:
    request, script = call.request, call.script
    store: dict[str, Ask] = call.state.setdefault("responses", {})
    previous = request.get("previous_response_id")
    if previous is not None and previous not in store:
        return 404, {
            "error": {
                "message": f"Response with id '{previous}' not found.",
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": 404,
            }
        }
    ids = Ids(
        seed_of(request.get("instructions"), request.get("input"), request.get("tools"), previous), script.deterministic
    )
    ask = ask_of(request, store.get(previous) if previous else None)
    turn = plan(ask, call.parallel, ids.sample, call.truncate)
    output: list[dict[str, Any]] = [
        {
            "id": f"rs_{ids.make('rs', 32)}",
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": turn.reasoning}],
            "encrypted_content": None,
            "status": None,
        }
    ]
    if turn.content:
        part: dict[str, Any] = {"type": "output_text", "text": turn.content, "annotations": [], "logprobs": None}
        output.append(
            {
                "id": f"msg_{ids.make('msg', 32)}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [part],
            }
        )
    for i, (name, args) in enumerate(turn.calls):
        call_id = ids.call(script.call_ids, i, name, ask)
        output.append(
            {
                "id": f"fc_{ids.make(f'fc{i}', 32)}",
                "type": "function_call",
                "call_id": call_id,
                "name": name,
                "arguments": args,
                "status": "completed",
            }
        )
    response_id = f"resp_{ids.make('resp', 32)}"
    if len(store) >= _STORE:
        store.pop(next(iter(store)))
    store[response_id] = replace(ask, calls_before=ask.calls_before + len(turn.calls))
    prompt = len(json.dumps([request.get("instructions"), request.get("input")])) // 4
    return 200, {
        "id": response_id,
        "object": "response",
        "created_at": 1750000000,
        "status": "incomplete" if turn.truncated else "completed",
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if turn.truncated else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "metadata": request.get("metadata"),
        "model": request.get("model") or script.model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": previous,
        "reasoning": request.get("reasoning"),
        "service_tier": "auto",
        "temperature": request.get("temperature", 1.0),
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": turn.tokens,
            "output_tokens_details": {"reasoning_tokens": len(turn.reasoning) // 4},
            "total_tokens": prompt + turn.tokens,
        },
        "user": None,
    }


def stream(call: Call, response: dict[str, Any]) -> Frames:
    """The events vLLM streams for `response`: created, in_progress, each item, then the terminal event."""
    seq = iter(range(1_000_000))
    ids = Ids(response["id"], True)

    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

    def streamed(key: str, done_id: str, prefix: str = "") -> str:
        return f"{prefix}{ids.make(key, 32)}" if call.script.stream_ids_differ else done_id

    start = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    yield event("response.created", response=start)
    yield event("response.in_progress", response=start)
    for index, item in enumerate(response["output"]):
        item_id = streamed(f"item{index}", item["id"])
        at = {"output_index": index, "item_id": item_id}
        if item["type"] == "reasoning":
            text = item["content"][0]["text"]
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "id": item_id, "content": None, "status": "in_progress"},
            )
            yield event(
                "response.content_part.added", **at, content_index=0, part={"type": "reasoning_text", "text": ""}
            )
            for word in pieces(text):
                yield event("response.reasoning_text.delta", **at, content_index=0, delta=word)
            yield event("response.reasoning_text.done", **at, content_index=0, text=text)
            yield event(
                "response.content_part.done", **at, content_index=0, part={"type": "reasoning_text", "text": text}
            )
            yield event(
                "response.output_item.done", output_index=index, item={**item, "id": item_id, "status": "completed"}
            )
        elif item["type"] == "message":
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "id": item_id, "content": [], "status": "in_progress"},
            )
            yield event("response.content_part.added", **at, content_index=0, part=part)
            for word in pieces(text):
                yield event("response.output_text.delta", **at, content_index=0, delta=word, logprobs=[])
            yield event("response.output_text.done", **at, content_index=0, text=text, logprobs=[])
            yield event("response.content_part.done", **at, content_index=0, part={**part, "text": text})
            yield event("response.output_item.done", output_index=index, item={**item, "id": item_id})
        else:
            live = {**item, "id": item_id, "call_id": streamed(f"call{index}", item["call_id"], "call_")}
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**live, "arguments": "", "status": "in_progress"},
            )
            for piece in pieces(item["arguments"], 8):
                yield event("response.function_call_arguments.delta", **at, delta=piece)
            yield event("response.function_call_arguments.done", **at, arguments=item["arguments"], name=item["name"])
            yield event("response.output_item.done", output_index=index, item=live)
    yield event(
        "response.incomplete" if response["status"] == "incomplete" else "response.completed", response=response
    )
