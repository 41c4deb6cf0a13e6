"""`tracemill import`: trace files in the workshop's JSON format (`timestamp`, `model`, `messages`,
`tools`) become exchanges marked IMPORT, so they join the same episode and export pipeline."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recorder.dialects import chat_completions
from recorder.dialects.base import COMPLETE
from recorder.ingest import Row


class ImportError_(ValueError):
    """A file that is not a trace; the message says why."""


def _timestamp(value: Any, path: Path) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    for fmt in ("%Y%m%d_%H%M%S",):
        try:
            return datetime.strptime(str(value), fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        return path.stat().st_mtime


def trace_row(path: Path) -> Row:
    raw = path.read_bytes()
    try:
        trace = json.loads(raw)
    except ValueError as exc:
        raise ImportError_(f"{path}: not JSON ({exc})") from None
    if not isinstance(trace, dict) or not isinstance(trace.get("messages"), list) or not trace["messages"]:
        raise ImportError_(f"{path}: expected an object with a non-empty 'messages' list")
    messages = trace["messages"]
    last = messages[-1]
    answered = isinstance(last, dict) and last.get("role") == "assistant"
    request = {
        "model": trace.get("model"),
        "messages": messages[:-1] if answered else messages,
        "tools": trace.get("tools") or [],
    }
    response = (
        {
            "object": "chat.completion",
            "model": trace.get("model"),
            "choices": [{"index": 0, "message": last, "finish_reason": "stop"}],
        }
        if answered
        else None
    )
    return "exchanges", {
        "uid": "import-" + hashlib.sha256(raw).hexdigest()[:40],  # re-importing a file is a no-op
        "started_at": _timestamp(trace.get("timestamp"), path),
        "session": f"import:{path.stem}",
        "method": "IMPORT",
        "path": "/v1" + chat_completions.PATH,  # the workshop format is chat messages
        "dialect": chat_completions.DIALECT.name,
        "completion_state": COMPLETE,
        "upstream": str(path.resolve()),
        "status": 200,
        "model": trace.get("model"),
        "request_json": json.dumps(request, ensure_ascii=False),
        "response_json": json.dumps(response, ensure_ascii=False) if response else None,
        "duration_ms": 0,
    }


def trace_rows(paths: list[Path]) -> tuple[list[Row], list[str]]:
    """The rows of every file that is a trace, and a line for each one that is not."""
    rows, problems = [], []
    for path in paths:
        try:
            rows.append(trace_row(path))
        except (ImportError_, OSError) as exc:
            problems.append(str(exc))
    return rows, problems
