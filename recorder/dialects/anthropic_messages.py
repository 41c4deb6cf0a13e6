"""The Anthropic Messages dialect (POST /v1/messages), streamed and not, in canonical chat form.

Translation rules, following how vLLM renders an Anthropic request for a chat template:
- `system` (a string, or text blocks joined with "" as vLLM does) -> the system message, leaving
  out Claude Code's `x-anthropic-billing-header: ...` block, which changes on every request.
- assistant turns: `thinking` blocks -> `reasoning_content` (signatures stay in the raw record),
  `text` blocks -> `content`, `tool_use` -> `tool_calls` with `arguments` the JSON of `input`;
  a `redacted_thinking` block marks the turn `redacted_thinking: True`.
- user turns: each `tool_result` -> a tool message (`tool_call_id` = `tool_use_id`, its text parts
  joined with "\\n"); images inside tool results and the turn's other text/image blocks -> one
  user message after the tool messages. `image` blocks -> `image_url` parts (a data URL for
  base64 sources). A single text part collapses to a string.
- blocks with no chat equivalent (server_tool_use, web_search_tool_result, document, ...) are
  carried as sent in the `unmapped` list of their message.
- tools `{name, description, input_schema}` -> chat function tools; server tools are kept as sent.
Streams are reassembled in `anthropic_stream`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from recorder.dialects.anthropic_stream import reassemble
from recorder.dialects.base import (
    COMPLETE,
    ERROR,
    INCOMPLETE,
    REDACTED,
    TRUNCATED,
    UNMAPPED,
    Canonical,
    DialectError,
    Lookup,
    Reassembled,
    as_int,
    obj,
    path_is,
)
from recorder.sse import SSEEvent

PATH = "/messages"
BILLING_HEADER = "x-anthropic-billing-header"
_TRUNCATED = {"max_tokens", "model_context_window_exceeded"}


def image_url(block: dict[str, Any]) -> dict[str, Any] | None:
    """An `image` block as a chat `image_url` part, or None for sources with no URL (file ids)."""
    source = obj(block.get("source"))
    if source.get("type") == "url" and source.get("url"):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    if source.get("type") == "base64" and source.get("data"):
        return {
            "type": "image_url",
            "image_url": {"url": f"data:{source.get('media_type') or 'image/jpeg'};base64,{source['data']}"},
        }
    return None


def _blocks(content: Any) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])


def _collapse(content: list[dict[str, Any]]) -> Any:
    if not content:
        return None
    return content[0]["text"] if len(content) == 1 and content[0].get("type") == "text" else content


def assistant(content: Any) -> dict[str, Any]:
    """An assistant turn's blocks as one chat assistant message."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    texts, thoughts, calls, unmapped = [], [], [], []
    for block in _blocks(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            thoughts.append(block.get("thinking") or "")
        elif kind == "redacted_thinking":
            message[REDACTED] = True
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") if block.get("input") is not None else {}, ensure_ascii=False)
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name") or "", "arguments": arguments},
                }
            )
        else:
            unmapped.append(block)
    if texts:
        message["content"] = "".join(texts)
    if any(thoughts):
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    if unmapped:
        message[UNMAPPED] = unmapped
    return message


def user(content: Any) -> list[dict[str, Any]]:
    """A user turn's blocks: a tool message per tool_result, then one user message with the rest."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    unmapped: list[Any] = []
    for block in _blocks(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            texts = []
            for inner in _blocks(block.get("content")):
                inner_kind = inner.get("type") if isinstance(inner, dict) else None
                if inner_kind == "text":
                    texts.append(inner.get("text") or "")
                elif inner_kind == "image" and image_url(inner):
                    images.append(image_url(inner))  # type: ignore[arg-type]
                else:
                    unmapped.append(inner)
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id") or "", "content": "\n".join(texts)})
        elif kind == "text":
            rest.append({"type": "text", "text": block.get("text") or ""})
        elif kind == "image":
            rest.append(image_url(block) or block)
        else:
            unmapped.append(block)
    parts = images + rest
    if parts or (unmapped and not out):
        out.append({"role": "user", "content": _collapse(parts)})
    if unmapped:
        out[-1][UNMAPPED] = unmapped
    return out


def system_of(request: dict[str, Any]) -> dict[str, Any] | None:
    blocks = _blocks(request.get("system"))
    for turn in request.get("messages") or []:  # vLLM also takes system turns inside messages
        if isinstance(turn, dict) and turn.get("role") == "system":
            blocks += _blocks(turn.get("content"))
    texts = [b.get("text") or "" for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    texts = [t for t in texts if t and not t.startswith(BILLING_HEADER)]
    unmapped = [b for b in blocks if not (isinstance(b, dict) and b.get("type") == "text")]
    if not texts and not unmapped:
        return None
    message: dict[str, Any] = {"role": "system", "content": "".join(texts)}
    if unmapped:
        message[UNMAPPED] = unmapped
    return message


def tools_of(tools: Any) -> list[dict[str, Any]] | None:
    if not isinstance(tools, list):
        return None
    out = []
    for tool in tools:
        if isinstance(tool, dict) and "input_schema" in tool:
            fn = {"name": tool.get("name"), "description": tool.get("description"), "parameters": tool["input_schema"]}
            out.append({"type": "function", "function": {k: v for k, v in fn.items() if v is not None}})
        elif isinstance(tool, dict):
            out.append(tool)
    return out


class AnthropicMessages:
    name = "anthropic_messages"

    def matches(self, method: str, path: str) -> bool:
        return path_is(method, path, PATH)

    def reassemble(self, events: Iterable[SSEEvent]) -> Reassembled:
        return reassemble(events)

    def usage(self, answer: dict[str, Any]) -> tuple[int | None, int | None]:
        usage = obj(answer.get("usage"))
        counts = [
            as_int(usage.get(k)) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ]
        prompt = sum(c for c in counts if c is not None) if any(c is not None for c in counts) else None
        return prompt, as_int(usage.get("output_tokens"))

    def completion(self, answer: dict[str, Any]) -> tuple[str, str | None]:
        if answer.get("type") == "error" or answer.get("error"):
            err = obj(answer.get("error")) or {"message": answer.get("error")}
            return ERROR, str(err.get("message") or err.get("type") or "error")
        reason = answer.get("stop_reason")
        if not reason:
            return INCOMPLETE, "the answer has no stop_reason"
        if reason in _TRUNCATED:
            return TRUNCATED, f"stop_reason {reason}"
        return COMPLETE, None

    def canonical(
        self, request: dict[str, Any], answer: dict[str, Any] | None, lookup: Lookup | None = None
    ) -> Canonical:
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            raise DialectError("an anthropic messages request needs a `messages` list")
        messages: list[dict[str, Any]] = []
        system = system_of(request)
        if system:
            messages.append(system)
        for turn in request["messages"]:
            if not isinstance(turn, dict) or turn.get("role") == "system":
                continue
            messages.extend(
                [assistant(turn.get("content"))] if turn.get("role") == "assistant" else user(turn.get("content"))
            )
        reply = (
            assistant(answer.get("content"))
            if isinstance(answer, dict) and isinstance(answer.get("content"), list)
            else None
        )
        return Canonical(
            messages=messages,
            tools=tools_of(request.get("tools")),
            answer=reply,
            model=request.get("model") if isinstance(request.get("model"), str) else None,
        )


DIALECT = AnthropicMessages()
