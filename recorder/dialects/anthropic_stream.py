"""Anthropic Messages stream reassembly: message_start, content_block_start/delta/stop (text,
thinking, signature, input_json and citations deltas), message_delta (stop reason, usage),
message_stop, ping and error events in; the message a non-streamed call returns out."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from recorder.dialects.base import Reassembled, as_int, obj
from recorder.sse import SSEEvent


def reassemble(events: Iterable[SSEEvent]) -> Reassembled:
    """Fold a Messages stream into the message a non-streamed call returns."""
    message: dict[str, Any] = {"type": "message", "role": "assistant", "content": []}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, list[str]] = {}
    errors: list[str] = []
    done = False
    for event in events:
        data = event.data.strip()
        if not data:
            continue
        try:
            payload = json.loads(data)
        except ValueError:
            errors.append(f"unparseable stream event: {data[:200]}")
            continue
        if not isinstance(payload, dict):
            continue
        kind = payload.get("type") or event.event
        index = as_int(payload.get("index"))
        index = -1 if index is None else index
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            message = {**copy.deepcopy(payload["message"]), "content": []}
        elif kind == "content_block_start" and isinstance(payload.get("content_block"), dict):
            blocks[index] = copy.deepcopy(payload["content_block"])
        elif kind == "content_block_delta" and isinstance(payload.get("delta"), dict):
            _delta(
                blocks.setdefault(index, {"type": "text", "text": ""}), payload["delta"], partial.setdefault(index, [])
            )
        elif kind == "content_block_stop":
            _finish(blocks.get(index), partial.pop(index, []), errors)
        elif kind == "message_delta":
            delta = obj(payload.get("delta"))
            message.update(
                {k: v for k, v in delta.items() if k in ("stop_reason", "stop_sequence", "container") or v is not None}
            )
            usage = obj(payload.get("usage"))
            message["usage"] = {**(message.get("usage") or {}), **{k: v for k, v in usage.items() if v is not None}}
        elif kind == "message_stop":
            done = True
        elif kind == "error":
            err = obj(payload.get("error")) or payload
            errors.append(str(err.get("message") or err.get("type") or json.dumps(err)))
    for index, pieces in partial.items():  # blocks the stream never closed
        _finish(blocks.get(index), pieces, errors)
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return Reassembled(message, "; ".join(errors) or None, done)


def _delta(block: dict[str, Any], delta: dict[str, Any], partial: list[str]) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = (block.get("text") or "") + (delta.get("text") or "")
    elif kind == "thinking_delta":
        block["thinking"] = (block.get("thinking") or "") + (delta.get("thinking") or "")
    elif kind == "signature_delta":
        block["signature"] = (block.get("signature") or "") + (delta.get("signature") or "")
    elif kind == "input_json_delta":
        partial.append(delta.get("partial_json") or "")
    elif kind == "citations_delta" and delta.get("citation") is not None:
        block.setdefault("citations", [])
        block["citations"] = (block["citations"] or []) + [delta["citation"]]


def _finish(block: dict[str, Any] | None, partial: list[str], errors: list[str]) -> None:
    """Parse a tool input streamed as JSON fragments; an unparseable one is kept as text and reported."""
    if block is None or not partial:
        return
    text = "".join(partial)
    try:
        block["input"] = json.loads(text) if text.strip() else {}
    except ValueError:
        block["input"] = text
        errors.append(f"tool input is not JSON: {text[:200]}")
