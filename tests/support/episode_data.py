"""Write chat exchanges straight into a real store, as the relay would have recorded them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from recorder.store import write_rows

_uids = itertools.count(1)


def assistant(
    content: str | None = None,
    reasoning: str | None = None,
    calls: list[tuple[str, str, dict[str, Any]]] = (),
    field: str = "reasoning_content",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message[field] = reasoning
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in calls
        ]
    return message


def add_exchange(
    db: Path | Any,
    messages: list[dict[str, Any]],
    answer: dict[str, Any],
    *,
    at: float,
    session: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    model: str = "qwen",
    duration: float = 0.5,
    finish: str = "stop",
    state: str = "complete",
) -> None:
    request = {"model": model, "messages": messages, **({"tools": tools} if tools else {})}
    response = {
        "id": "c",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": answer, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    write_rows(
        str(db),
        [
            (
                "exchanges",
                {
                    "uid": f"test-{next(_uids)}-{at}",
                    "started_at": at,
                    "session": session,
                    "method": "POST",
                    "path": "/v1/chat/completions",
                    "status": 200,
                    "model": model,
                    "duration_ms": duration * 1000,
                    "request_json": json.dumps(request),
                    "response_json": json.dumps(response),
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "dialect": "chat_completions",
                    "completion_state": state,
                    "incomplete": int(state == "incomplete"),
                },
            )
        ],
    )
