"""Chat-completion stream reassembly: SSE chunks in, the chat.completion they add up to out.

The result must equal what the upstream would have answered without `stream`, so each
field is rebuilt with the provider quirks in mind (see `_ChoiceBuilder.add_tool_call`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from recorder.sse import SSEEvent

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
    reasoning: list[str] = field(default_factory=list)
    reasoning_field: str | None = None
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
                self.reasoning_field = self.reasoning_field or name
                self.reasoning.append(delta[name])
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
        # An empty-but-present content stays "" only when nothing else answered.
        message["content"] = text if text or (self.saw_content and not self.tool_calls) else None
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.reasoning_field:
            message[self.reasoning_field] = "".join(self.reasoning)
        if self.tool_calls:
            message["tool_calls"] = [
                {**c, "type": c["type"] or "function"} for _, c in sorted(self.tool_calls.items())
            ]
        message.update(self.extra)
        choice: dict[str, Any] = {"index": self.index, "message": message, "finish_reason": self.finish_reason}
        if self.logprobs:
            choice["logprobs"] = {"content": self.logprobs}
        return choice


_KNOWN_DELTA_KEYS = {"role", "content", "refusal", "tool_calls", "function_call", *REASONING_FIELDS}


def assemble(events: list[SSEEvent]) -> Assembled:
    """Fold the `data:` events of a chat-completion stream into one chat.completion."""
    choices: dict[int, _ChoiceBuilder] = {}
    top: dict[str, Any] = {}
    usage = None
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
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None and key not in top:
                top[key] = chunk[key]
        if chunk.get("usage"):
            usage = chunk["usage"]
        for raw in chunk.get("choices") or ():
            index = raw.get("index", 0)
            builder = choices.setdefault(index, _ChoiceBuilder(index))
            builder.add_delta(raw.get("delta") or {})
            if raw.get("finish_reason"):
                builder.finish_reason = raw["finish_reason"]
            if (raw.get("logprobs") or {}).get("content"):
                builder.logprobs.extend(raw["logprobs"]["content"])
    completion = {
        "id": top.get("id"),
        "object": "chat.completion",
        "created": top.get("created"),
        "model": top.get("model"),
        "choices": [choices[i].build() for i in sorted(choices)],
    }
    for key in ("system_fingerprint", "service_tier"):
        if key in top:
            completion[key] = top[key]
    if usage is not None:
        completion["usage"] = usage
    field_used = next((c.reasoning_field for c in choices.values() if c.reasoning_field), None)
    finished = bool(choices) and all(c.finish_reason for c in choices.values())
    return Assembled(completion, field_used, "; ".join(errors) or None, done or finished)


def reasoning_field_of(completion: dict[str, Any]) -> str | None:
    """Which reasoning field a non-streamed completion used, if any."""
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        for name in REASONING_FIELDS:
            if message.get(name):
                return name
    return None
