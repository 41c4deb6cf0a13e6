"""Episode to dataset row, in the OpenAI chat format that Qwen3-style templates render as-is.

An assistant message carries `content`, `reasoning_content` when there was reasoning, and
`tool_calls` with `id`, `type` and `function{name, arguments}` where arguments is a JSON string;
a tool message carries `tool_call_id` and `content`. `tools` are exactly what the agent sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from recorder import Curation, Episode
from recorder.episodes.normalize import text_of


def clean_message(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    out: dict[str, Any] = {"role": role, "content": text_of(message.get("content"))}
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
                        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}, ensure_ascii=False),
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
        (index, message) for index, message in enumerate(episode.messages)
        if not curation.drops(index) and not (strip and message.get("role") == "system")
    ]


def episode_row(episode: Episode, curation: Curation | None = None, strip_system: bool = False) -> dict[str, Any]:
    """One row per episode; curation drops turns and the system prompt and applies edits, in the exported form only."""
    curation = curation or Curation()
    messages = [clean_message(curation.edited(index, message)) for index, message in kept(episode, curation, strip_system)]
    return {
        "id": str(episode.id),
        "timestamp": iso(episode.started_at),
        "model": episode.model or "",
        "messages": messages,
        "tools": episode.tools,
        "session": episode.session or "",
        "source": episode.source,
    }
