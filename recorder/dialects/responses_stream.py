"""OpenAI Responses stream reassembly: `event: response.*` SSE events in, the response object out.

The answer is the response that `response.completed` (or `.incomplete` / `.failed`) carries, which
is what a non-streamed call returns. The items are also rebuilt from `response.output_item.*` and
the delta events, because some servers (vLLM) give the streamed items other ids than the ones they
rebuild in `response.completed`, and clients differ in which ones they send back: the openai SDK
and the Agents SDK use the completed ids, Codex the streamed ones. Where they differ, the answer
gets `STREAM_IDS`: {completed id: streamed id} for item ids and call ids alike. Without a terminal
event the answer is the last response snapshot with the streamed items as its output.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from recorder.dialects.base import Reassembled, obj, string
from recorder.sse import SSEEvent

STREAM_IDS = "tracemill_stream_ids"  # added to a reassembled answer: {completed id: streamed id}
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
_SNAPSHOTS = {"response.created", "response.in_progress", "response.queued", *TERMINAL}


class _Items:
    """The output items as streamed: added, grown by deltas, replaced by `output_item.done`."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}

    def at(self, event: dict[str, Any]) -> dict[str, Any] | None:
        index = event.get("output_index")
        return self.items.get(index) if isinstance(index, int) else None

    def apply(self, kind: str, event: dict[str, Any]) -> None:
        if kind in ("response.output_item.added", "response.output_item.done"):
            if isinstance(event.get("output_index"), int) and isinstance(event.get("item"), dict):
                self.items[event["output_index"]] = copy.deepcopy(event["item"])
            return
        item = self.at(event)
        if item is None:
            return
        delta = string(event.get("delta"))
        if kind == "response.content_part.added" and isinstance(event.get("part"), dict):
            _slot(item, "content", event.get("content_index"), copy.deepcopy(event["part"]))
        elif kind == "response.reasoning_summary_part.added" and isinstance(event.get("part"), dict):
            _slot(item, "summary", event.get("summary_index"), copy.deepcopy(event["part"]))
        elif kind in ("response.output_text.delta", "response.reasoning_text.delta"):
            part_type = "output_text" if kind == "response.output_text.delta" else "reasoning_text"
            part = _slot(item, "content", event.get("content_index"), {"type": part_type, "text": ""})
            part["text"] = string(part.get("text")) + delta
        elif kind == "response.refusal.delta":
            part = _slot(item, "content", event.get("content_index"), {"type": "refusal", "refusal": ""})
            part["refusal"] = string(part.get("refusal")) + delta
        elif kind == "response.reasoning_summary_text.delta":
            part = _slot(item, "summary", event.get("summary_index"), {"type": "summary_text", "text": ""})
            part["text"] = string(part.get("text")) + delta
        elif kind == "response.function_call_arguments.delta":
            item["arguments"] = string(item.get("arguments")) + delta
        elif kind == "response.custom_tool_call_input.delta":
            item["input"] = string(item.get("input")) + delta

    def output(self) -> list[dict[str, Any]]:
        return [self.items[i] for i in sorted(self.items)]


def _slot(item: dict[str, Any], key: str, index: Any, default: dict[str, Any]) -> dict[str, Any]:
    """item[key][index], created (with `default`) where the stream skipped announcing it."""
    parts = item.setdefault(key, [])
    if not isinstance(parts, list):
        parts = item[key] = []
    index = index if isinstance(index, int) and index >= 0 else max(len(parts) - 1, 0)
    while len(parts) <= index:
        parts.append(copy.deepcopy(default))
    part = parts[index]
    if isinstance(part, dict):
        return part
    parts[index] = fresh = copy.deepcopy(default)
    return fresh


def _ids(item: dict[str, Any]) -> list[str]:
    return [item[k] for k in ("id", "call_id") if isinstance(item.get(k), str)]


def stream_ids(final: list[Any], streamed: list[dict[str, Any]]) -> dict[str, str]:
    """{completed id: streamed id} for the items at the same place whose ids differ."""
    out: dict[str, str] = {}
    for done, seen in zip(final, streamed, strict=False):
        if not isinstance(done, dict) or done.get("type") != seen.get("type"):
            continue
        for key in ("id", "call_id"):
            a, b = done.get(key), seen.get(key)
            if isinstance(a, str) and isinstance(b, str) and a != b:
                out[a] = b
    return out


def reassemble(events: Iterable[SSEEvent]) -> Reassembled:
    """Fold the events of a Responses stream into the response object a non-streamed call returns."""
    items = _Items()
    response: dict[str, Any] | None = None
    errors: list[str] = []
    done = False
    for event in events:
        data = event.data.strip()
        if not data or data == "[DONE]":
            continue
        try:
            payload = json.loads(data)
        except ValueError:
            errors.append(f"unparseable stream event: {data[:200]}")
            continue
        if not isinstance(payload, dict):
            continue
        kind = string(payload.get("type")) or event.event
        if kind == "error":
            err = obj(payload.get("error")) or payload
            errors.append(str(err.get("message") or err.get("code") or json.dumps(err)))
        elif kind in _SNAPSHOTS and isinstance(payload.get("response"), dict):
            response = payload["response"]
            if kind in TERMINAL:
                done = True
            if kind == "response.failed":
                err = obj(response.get("error"))
                errors.append(str(err.get("message") or err.get("code") or "response.failed"))
        else:
            items.apply(kind, payload)
    streamed = items.output()
    if response is None:
        response = {"object": "response", "status": "in_progress", "output": streamed}
    elif not done:
        response = {**response, "output": streamed}
    else:
        final = response.get("output")
        ids = stream_ids(final if isinstance(final, list) else [], streamed)
        if ids:
            response = {**response, STREAM_IDS: ids}
    return Reassembled(response, "; ".join(errors) or None, done)
