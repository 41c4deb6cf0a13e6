"""A small scripted upstream that answers like vLLM serving Qwen3 with the reasoning parser and
the hermes tool parser: reasoning, then tool calls; after tool results, reasoning and an answer.

It backs `tracemill demo`, the tests and the benchmark: no network, no GPU. Answers are a pure
function of the request body, so a direct and a proxied request get byte-identical bodies.
Per-request knobs come in headers: `x-script-parallel: N` asks for N parallel tool calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from proxy.asgi import Receive, Scope, Send, read_body, send_json


@dataclass
class Script:
    reasoning_field: str = "reasoning_content"  # vLLM >= 0.10 streams "reasoning"
    chunk_delay: float = 0.0  # seconds between stream chunks
    model: str = "Qwen/Qwen3-30B-A3B"


def _sample(name: str, schema: dict[str, Any], k: int) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][k % len(schema["enum"])]
    if kind in ("number", "integer"):
        return 2 + k
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if name in ("city", "location"):
        return ["Paris", "Tokyo", "Lima", "Oslo"][k % 4]
    return f"{name}-{k}"


def plan(request: dict[str, Any], parallel: int) -> dict[str, Any]:
    """The assistant message this script answers with."""
    messages = request.get("messages") or []
    tools = request.get("tools") or []
    last = messages[-1] if messages else {}
    question = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "") or ""
    if isinstance(question, list):
        question = " ".join(p.get("text", "") for p in question if isinstance(p, dict))
    if tools and last.get("role") != "tool":
        fn = tools[0]["function"]
        props = (fn.get("parameters") or {}).get("properties") or {}
        calls = []
        for k in range(parallel):
            args = {name: _sample(name, schema, k) for name, schema in props.items()}
            calls.append({"name": fn["name"], "arguments": json.dumps(args)})
        names = " and ".join(c["name"] for c in calls)
        return {
            "reasoning": f"The user asks: {question[:80]}. I should call {names} to find out.",
            "content": None,
            "tool_calls": calls,
        }
    results = [m.get("content") for m in messages if m.get("role") == "tool"]
    answer = f"Here is what I found: {'; '.join(str(r) for r in results)}." if results else f"You said: {question}"
    return {"reasoning": "I have what I need, so I can answer now.", "content": answer, "tool_calls": []}


class ScriptedUpstream:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = await read_body(receive)
        path = scope["path"]
        if path.endswith("/models"):
            await send_json(send, 200, {"object": "list", "data": [{"id": self.script.model, "object": "model", "owned_by": "vllm"}]})
            return
        if not path.endswith("/chat/completions"):
            await send_json(send, 404, {"error": {"message": f"no route {path}", "type": "NotFoundError", "code": 404}})
            return
        try:
            request = json.loads(body)
        except ValueError:
            await send_json(send, 400, {"error": {"message": "body is not JSON", "type": "BadRequestError", "code": 400}})
            return
        self.requests.append(request)
        headers = dict(scope["headers"])
        parallel = int(headers.get(b"x-script-parallel", b"1"))
        answer = plan(request, parallel)
        seed = hashlib.sha256(json.dumps([request.get("messages"), request.get("tools")]).encode()).hexdigest()
        n = int(request.get("n") or 1)
        if request.get("stream"):
            await self._stream(send, request, answer, seed, n)
        else:
            await send_json(send, 200, self._completion(request, answer, seed, n))

    def _ids(self, seed: str, count: int) -> list[str]:
        return [f"chatcmpl-tool-{seed[8 + 8 * i: 16 + 8 * i]}" for i in range(count)]

    def _usage(self, request: dict[str, Any], answer: dict[str, Any], n: int) -> dict[str, int]:
        prompt = len(json.dumps(request.get("messages"))) // 4
        completion = n * (len(answer["reasoning"]) + len(answer["content"] or "") + len(json.dumps(answer["tool_calls"]))) // 4
        return {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion}

    def _completion(self, request: dict[str, Any], answer: dict[str, Any], seed: str, n: int) -> dict[str, Any]:
        ids = self._ids(seed, len(answer["tool_calls"]))
        message: dict[str, Any] = {"role": "assistant", "content": answer["content"]}
        message[self.script.reasoning_field] = answer["reasoning"]
        if answer["tool_calls"]:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": c} for i, c in zip(ids, answer["tool_calls"], strict=True)
            ]
        finish = "tool_calls" if answer["tool_calls"] else "stop"
        return {
            "id": f"chatcmpl-{seed[:16]}",
            "object": "chat.completion",
            "created": 1750000000,
            "model": request.get("model") or self.script.model,
            "choices": [{"index": k, "message": message, "finish_reason": finish} for k in range(n)],
            "usage": self._usage(request, answer, n),
        }

    async def _stream(self, send: Send, request: dict[str, Any], answer: dict[str, Any], seed: str, n: int) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        head = {"id": f"chatcmpl-{seed[:16]}", "object": "chat.completion.chunk", "created": 1750000000, "model": request.get("model") or self.script.model}

        async def emit(payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps({**head, **payload})
            await send({"type": "http.response.body", "body": f"data: {data}\n\n".encode(), "more_body": True})
            if self.script.chunk_delay:
                await asyncio.sleep(self.script.chunk_delay)

        def choice(k: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"choices": [{"index": k, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        ids = self._ids(seed, len(answer["tool_calls"]))
        for k in range(n):
            await emit(choice(k, {"role": "assistant", "content": ""}))
            for word in _pieces(answer["reasoning"]):
                await emit(choice(k, {self.script.reasoning_field: word}))
            for word in _pieces(answer["content"] or ""):
                await emit(choice(k, {"content": word}))
            for t, call in enumerate(answer["tool_calls"]):
                first = {"index": t, "id": ids[t], "type": "function", "function": {"name": call["name"], "arguments": ""}}
                await emit(choice(k, {"tool_calls": [first]}))
                for part in _pieces(call["arguments"], 8):
                    await emit(choice(k, {"tool_calls": [{"index": t, "function": {"arguments": part}}]}))
            await emit(choice(k, {"content": ""} if not answer["tool_calls"] else {}, "tool_calls" if answer["tool_calls"] else "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            await emit({"choices": [], "usage": self._usage(request, answer, n)})
        await emit("[DONE]")
        await send({"type": "http.response.body", "body": b""})


def _pieces(text: str, size: int = 0) -> list[str]:
    """Split text the way a tokenizer-driven stream would: by words, or by fixed sizes."""
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    return out + ([word] if word else [])
