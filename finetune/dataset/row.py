"""Episode to dataset row, in the OpenAI chat format that Qwen3-style templates render as-is.

An assistant message carries `content`, `reasoning_content` when there was reasoning, and
`tool_calls` with `id`, `type` and `function{name, arguments}` where arguments is a JSON string;
a tool message carries `tool_call_id` and `content`. `tools` are exactly what the agent sent.

`content` is a string, except when it holds parts that are not text (`image_url`, `input_audio`,
...): then it stays a list of parts, text parts included, so images reach the dataset. A list of
only text parts is joined into one string. An assistant turn whose reasoning the provider
redacted carries `redacted_thinking: true`; items no chat field can hold ride along under `unmapped`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from recorder import Curation, Episode
from recorder.dialects.base import REDACTED, UNMAPPED
from recorder.episodes.normalize import text_of


def content_of(content: Any) -> str | list[dict[str, Any]]:
    """Text as a string; a list with any part that is not text stays a list of parts."""
    if not isinstance(content, list):
        return text_of(content)
    parts = [p if isinstance(p, dict) else {"type": "text", "text": str(p)} for p in content]
    if all(p.get("type", "text") == "text" for p in parts):
        return text_of(parts)
    return [{"type": "text", "text": str(p.get("text", ""))} if p.get("type", "text") == "text" else p for p in parts]


def clean_message(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    out: dict[str, Any] = {"role": role, "content": content_of(message.get("content"))}
    for key in (REDACTED, UNMAPPED):
        if message.get(key):
            out[key] = message[key]
    if role == "assistant":
        if message.get("reasoning_content"):
            out["reasoning_content"] = str(message["reasoning_content"])
        calls = []
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            arguments = fn.get("arguments")
            calls.append(
                {
                    "id": call.get("id") or "",
                    "type": call.get("type") or "function",
                    "function": {
                        "name": fn.get("name") or "",
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments or {}, ensure_ascii=False),
                    },
                }
            )
        if calls:
            out["tool_calls"] = calls
    elif role == "tool":
        out["tool_call_id"] = message.get("tool_call_id") or ""
    return out


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def kept(episode: Episode, curation: Curation, strip_system: bool = False) -> list[tuple[int, dict[str, Any]]]:
    """The (index, message) pairs that curation keeps: not in a dropped range, not a stripped system prompt."""
    strip = strip_system or curation.strip_system
    return [
        (index, message)
        for index, message in enumerate(episode.messages)
        if not curation.drops(index) and not (strip and message.get("role") == "system")
    ]


def episode_row(
    episode: Episode, curation: Curation | None = None, strip_system: bool = False, include_incomplete: bool = False
) -> dict[str, Any]:
    """One row per episode; curation drops turns and the system prompt and applies edits, in the exported form only.

    A last answer that was cut off (truncated or incomplete) is left out unless `include_incomplete`:
    never train on an answer the model did not finish.
    """
    curation = curation or Curation()
    cut = len(episode.messages) - 1 if episode.cut_off and not include_incomplete else None
    messages = [
        clean_message(curation.edited(index, message))
        for index, message in kept(episode, curation, strip_system)
        if index != cut
    ]
    return {
        "id": str(episode.id),
        "timestamp": iso(episode.started_at),
        "model": episode.model or "",
        "messages": messages,
        "tools": episode.tools,
        "session": episode.session or "",
        "source": episode.source,
    }
