"""The OpenAI Chat Completions dialect (POST /v1/chat/completions): already canonical.

Stream reassembly turns SSE chunks into the chat.completion they add up to. The result must
equal what the upstream would have answered without `stream`, so each field is rebuilt with the
provider quirks in mind: tool-call fragments (see `_ChoiceBuilder.add_tool_call`) and reasoning
under `reasoning_content`, `reasoning` or both at once (vLLM during its rename sends the same text
under both; each field is rebuilt on its own, so neither is doubled).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from recorder.dialects.base import (
    COMPLETE,
    ERROR,
    INCOMPLETE,
    TRUNCATED,
    Canonical,
    DialectError,
    Lookup,
    Reassembled,
    as_int,
    obj,
    path_is,
)
from recorder.sse import SSEEvent

PATH = "/chat/completions"
REASONING_FIELDS = ("reasoning_content", "reasoning")


@dataclass
class Assembled:
    completion: dict[str, Any]
    reasoning_field: str | None = None
    error: str | None = None
    done: bool = False  # saw `data: [DONE]` or a finish_reason on every choice


@dataclass
class _ChoiceBuilder:
    index: int
    role: str | None = None
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: dict[str, list[str]] = field(default_factory=dict)  # per field: both may come, each whole
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    saw_content: bool = False

    def add_delta(self, delta: dict[str, Any]) -> None:
        if delta.get("role"):
            self.role = self.role or delta["role"]
        if "content" in delta:
            self.saw_content = True
            if delta["content"]:
                self.content.append(delta["content"])
        if delta.get("refusal"):
            self.refusal.append(delta["refusal"])
        for name in REASONING_FIELDS:
            if delta.get(name):
                self.reasoning.setdefault(name, []).append(delta[name])
        for call in delta.get("tool_calls") or ():
            self.add_tool_call(call)
        for key, value in delta.items():
            if key not in _KNOWN_DELTA_KEYS and value is not None:
                self.extra[key] = value

    def add_tool_call(self, frag: dict[str, Any]) -> None:
        """Merge one tool-call fragment: id, type and name are set once, arguments appended."""
        index = frag.get("index")
        if index is None:
            # Some providers omit the index: match by id, else continue the last call, else start one.
            by_id = [i for i, c in self.tool_calls.items() if frag.get("id") and c["id"] == frag["id"]]
            if by_id:
                index = by_id[0]
            elif self.tool_calls and not (frag.get("id") and self._last()["id"]):
                index = max(self.tool_calls)
            else:
                index = len(self.tool_calls)
        call = self.tool_calls.setdefault(
            index, {"id": None, "type": None, "function": {"name": None, "arguments": ""}}
        )
        call["id"] = call["id"] or frag.get("id")
        call["type"] = call["type"] or frag.get("type")
        fn = frag.get("function") or {}
        if fn.get("name") and not call["function"]["name"]:
            call["function"]["name"] = fn["name"]
        if fn.get("arguments"):
            call["function"]["arguments"] += fn["arguments"]

    def _last(self) -> dict[str, Any]:
        return self.tool_calls[max(self.tool_calls)]

    def build(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role or "assistant"}
        text = "".join(self.content)
        # An empty-but-present content stays "" only when nothing else answered (vLLM: `content or None`).
        message["content"] = text if text or (self.saw_content and not self.tool_calls and not self.reasoning) else None
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        for name, parts in self.reasoning.items():
            message[name] = "".join(parts)
        if self.tool_calls:
            message["tool_calls"] = [{**c, "type": c["type"] or "function"} for _, c in sorted(self.tool_calls.items())]
        message.update(self.extra)
        choice: dict[str, Any] = {"index": self.index, "message": message, "finish_reason": self.finish_reason}
        if self.logprobs:
            choice["logprobs"] = {"content": self.logprobs}
        return choice


_KNOWN_DELTA_KEYS = {"role", "content", "refusal", "tool_calls", "function_call", *REASONING_FIELDS}


@dataclass
class _Stream:
    """A chat-completion stream being added up, chunk by chunk."""

    choices: dict[int, _ChoiceBuilder] = field(default_factory=dict)
    top: dict[str, Any] = field(default_factory=dict)
    usage: Any = None

    def add(self, chunk: dict[str, Any]) -> None:
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None and key not in self.top:
                self.top[key] = chunk[key]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for raw in chunk.get("choices") or ():
            index = raw.get("index", 0)
            builder = self.choices.setdefault(index, _ChoiceBuilder(index))
            builder.add_delta(raw.get("delta") or {})
            if raw.get("finish_reason"):
                builder.finish_reason = raw["finish_reason"]
            if (raw.get("logprobs") or {}).get("content"):
                builder.logprobs.extend(raw["logprobs"]["content"])

    def completion(self) -> dict[str, Any]:
        top = self.top
        completion = {
            "id": top.get("id"),
            "object": "chat.completion",
            "created": top.get("created"),
            "model": top.get("model"),
            "choices": [self.choices[i].build() for i in sorted(self.choices)],
        }
        for key in ("system_fingerprint", "service_tier"):
            if key in top:
                completion[key] = top[key]
        if self.usage is not None:
            completion["usage"] = self.usage
        return completion


def assemble(events: list[SSEEvent]) -> Assembled:
    """Fold the `data:` events of a chat-completion stream into one chat.completion."""
    stream = _Stream()
    errors: list[str] = []
    done = False
    for event in events:
        data = event.data.strip()
        if not data:
            continue
        if data == "[DONE]":
            done = True
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            errors.append(f"unparseable stream event: {data[:200]}")
            continue
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk:
            errors.append(json.dumps(chunk["error"]) if not isinstance(chunk["error"], str) else chunk["error"])
            continue
        stream.add(chunk)
    choices = stream.choices.values()
    field_used = next((name for c in choices for name in REASONING_FIELDS if name in c.reasoning), None)
    finished = bool(choices) and all(c.finish_reason for c in choices)
    return Assembled(stream.completion(), field_used, "; ".join(errors) or None, done or finished)


def reasoning_field_of(completion: dict[str, Any]) -> str | None:
    """Which reasoning field a non-streamed completion used, if any."""
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        for name in REASONING_FIELDS:
            if message.get(name):
                return name
    return None


def answer_message(completion: dict[str, Any] | None) -> dict[str, Any] | None:
    """choices[0].message in canonical form: role set, reasoning under `reasoning_content` only."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    raw = choices[0].get("message")
    if not isinstance(raw, dict):
        return None
    reasoning = next((raw[name] for name in REASONING_FIELDS if raw.get(name)), None)
    message = {k: v for k, v in raw.items() if k not in REASONING_FIELDS}
    message.setdefault("role", "assistant")
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


class ChatCompletions:
    name = "chat_completions"

    def matches(self, method: str, path: str) -> bool:
        return path_is(method, path, PATH)

    def reassemble(self, events: Iterable[SSEEvent]) -> Reassembled:
        out = assemble(list(events))
        return Reassembled(out.completion, out.error, out.done, out.reasoning_field)

    def reasoning_field(self, answer: dict[str, Any]) -> str | None:
        """Which field a non-streamed answer carried reasoning under (streams: `Reassembled`)."""
        return reasoning_field_of(answer)

    def usage(self, answer: dict[str, Any]) -> tuple[int | None, int | None]:
        usage = obj(answer.get("usage"))
        return as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))

    def completion(self, answer: dict[str, Any]) -> tuple[str, str | None]:
        if answer.get("error"):
            err = answer["error"]
            return ERROR, str(err.get("message") or err) if isinstance(err, dict) else str(err)
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return INCOMPLETE, "no choices in the answer"
        reason = choices[0].get("finish_reason")
        if not reason:
            return INCOMPLETE, "the answer has no finish_reason"
        if reason in ("length", "content_filter"):
            return TRUNCATED, f"finish_reason {reason}"
        if reason in ("abort", "error"):  # vLLM marks aborted and failed generations so
            return INCOMPLETE, f"finish_reason {reason}"
        return COMPLETE, None

    def canonical(
        self, request: dict[str, Any], answer: dict[str, Any] | None, lookup: Lookup | None = None
    ) -> Canonical:
        messages = request.get("messages") if isinstance(request, dict) else None
        if not isinstance(messages, list):
            raise DialectError("a chat completions request needs a `messages` list")
        tools = request.get("tools")
        return Canonical(
            messages=[m for m in messages if isinstance(m, dict)],
            tools=[t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else None,
            answer=answer_message(answer),
            model=request.get("model") if isinstance(request.get("model"), str) else None,
        )


DIALECT = ChatCompletions()
