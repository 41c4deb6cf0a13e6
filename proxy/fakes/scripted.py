"""A small scripted upstream that answers like vLLM serving Qwen3 with the reasoning parser and
the hermes tool parser: reasoning, then tool calls; after tool results, reasoning and an answer.

It backs `tracemill demo`, the tests and the benchmark: no network, no GPU. It speaks the three
LLM dialects vLLM serves, streamed and not, each in its own module: Chat Completions
(`scripted_chat`), Responses (`scripted_responses`) and Anthropic Messages (`scripted_anthropic`).
Each reads its request into an `Ask`, the shared `plan` decides the `Turn`, and the module writes
it in its wire format.

With `Script.deterministic` (the default) answers are a pure function of the request body, ids
included, so a direct and a proxied request get byte-identical bodies; without it every sample
gets fresh ids and its own reasoning, as sampling at temperature > 0 does.
Per-request knobs come in headers: `x-script-parallel: N` asks for N parallel tool calls;
`x-script-truncate: 1` cuts the answer at the token limit (finish `length` / status `incomplete` /
stop `max_tokens`); `x-script-die-after: N` ends a stream after N events with no terminal event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from proxy.asgi import Receive, Scope, Send, read_body, send_json


@dataclass
class Script:
    reasoning_field: str = "reasoning_content"  # chat: "reasoning_content", "reasoning" (vLLM >= 0.10) or "both"
    chunk_delay: float = 0.0  # seconds between stream chunks
    model: str = "Qwen/Qwen3-30B-A3B"
    deterministic: bool = True  # same request -> same answer, ids included; else fresh ids and reasoning per sample
    stream_ids_differ: bool = True  # responses: streamed items get other ids than response.completed (as vLLM does)
    tokenizer: str | None = None  # a tokenizer path: chat and /v1/completions answer with token ids (scripted_tokens)
    call_ids: str = "random"  # "random": chatcmpl-tool-<hex>; "kimi": functions.NAME:N counting earlier calls


@dataclass
class Ask:
    """What the scripted model reads from a request, whatever the dialect."""

    question: str = ""
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, JSON schema)
    after_tool: bool = False  # the last message is a tool result
    results: list[str] = field(default_factory=list)
    calls_before: int = 0  # tool calls earlier in the conversation (Kimi-K2-style ids count them)


@dataclass
class Turn:
    """What the scripted model answers: reasoning, then text or tool calls."""

    reasoning: str
    content: str | None
    calls: list[tuple[str, str]]  # (name, JSON arguments)
    truncated: bool = False

    @property
    def tokens(self) -> int:
        return (len(self.reasoning) + len(self.content or "") + len(json.dumps(self.calls))) // 4


class Ids:
    """Ids for one answer: derived from the request when deterministic, random otherwise."""

    def __init__(self, seed: str, deterministic: bool) -> None:
        self.seed = seed if deterministic else uuid.uuid4().hex
        self.sample = "" if deterministic else self.seed[:6]

    def make(self, salt: str, width: int = 16) -> str:
        return hashlib.sha256(f"{self.seed}:{salt}".encode()).hexdigest()[:width]

    def call(self, style: str, index: int, name: str, ask: Ask) -> str:
        """A tool-call id the way vLLM makes them: random, or Kimi-K2's `functions.NAME:N`."""
        if style == "kimi":
            return f"functions.{name}:{ask.calls_before + index}"
        return f"chatcmpl-tool-{self.make(f'call{index}')}"


def seed_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


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


def plan(ask: Ask, parallel: int, sample: str = "", truncate: bool = False) -> Turn:
    """The turn this script answers with: call the first tool, or answer from the tool results."""
    note = f" (sample {sample})" if sample else ""
    if ask.tools and not ask.after_tool:
        name, schema = ask.tools[0]
        props = (schema or {}).get("properties") or {}
        calls = [(name, json.dumps({p: _sample(p, s, k) for p, s in props.items()})) for k in range(parallel)]
        names = " and ".join(c[0] for c in calls)
        turn = Turn(f"The user asks: {ask.question[:80]}. I should call {names} to find out{note}.", None, calls)
    elif ask.results:
        turn = Turn(
            f"I have what I need, so I can answer now{note}.", f"Here is what I found: {'; '.join(ask.results)}.", []
        )
    else:
        turn = Turn(f"I have what I need, so I can answer now{note}.", f"You said: {ask.question}", [])
    if truncate:  # the token limit hit mid-reasoning: half the thought, no answer
        return Turn(turn.reasoning[: len(turn.reasoning) // 2], None, [], truncated=True)
    return turn


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return content if isinstance(content, str) else ""


def pieces(text: str, size: int = 0) -> list[str]:
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


def sse(payload: Any, event: str | None = None) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return (f"event: {event}\n" if event else "").encode() + f"data: {data}\n\n".encode()


@dataclass
class Call:
    """One request, as the dialect modules see it."""

    request: dict[str, Any]
    script: Script
    parallel: int = 1
    truncate: bool = False
    state: dict[str, Any] = field(default_factory=dict)  # the upstream's memory (stored responses)


class ScriptedUpstream:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self.tokens: Any = None
        if self.script.tokenizer:
            from proxy.fakes.scripted_tokens import TokenModel

            self.tokens = TokenModel(self.script.tokenizer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from proxy.fakes import scripted_anthropic, scripted_chat, scripted_responses, scripted_token_answers

        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = await read_body(receive)
        path = scope["path"].rstrip("/")
        if path.endswith("/models"):
            await send_json(
                send,
                200,
                {"object": "list", "data": [{"id": self.script.model, "object": "model", "owned_by": "vllm"}]},
            )
            return
        if self.tokens is not None and path.endswith("/v1/completions"):
            await scripted_token_answers.answer(self.tokens, send, json.loads(body), None, dict(scope["headers"]))
            return
        dialect = next(
            (d for d in (scripted_chat, scripted_responses, scripted_anthropic) if path.endswith(d.PATH)), None
        )
        if dialect is None or scope.get("method", "POST") != "POST":
            await send_json(send, 404, {"error": {"message": f"no route {path}", "type": "NotFoundError", "code": 404}})
            return
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await send_json(
                send, 400, {"error": {"message": "body is not JSON", "type": "BadRequestError", "code": 400}}
            )
            return
        self.requests.append(request)
        headers = dict(scope["headers"])
        call = Call(
            request,
            self.script,
            int(headers.get(b"x-script-parallel", b"1")),
            headers.get(b"x-script-truncate") == b"1",
            self.state,
        )
        status, answer = dialect.answer(call)
        if self.tokens is not None and dialect is scripted_chat and status == 200:
            await scripted_token_answers.answer(self.tokens, send, request, answer, headers, self.script.chunk_delay)
            return
        if not request.get("stream") or status != 200:
            await send_json(send, status, answer)
            return
        die_after = int(headers.get(b"x-script-die-after", b"0"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for n, frame in enumerate(dialect.stream(call, answer), 1):
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            if self.script.chunk_delay:
                await asyncio.sleep(self.script.chunk_delay)
            if die_after and n >= die_after:
                break
        await send({"type": "http.response.body", "body": b""})


Frames = Iterator[bytes]
