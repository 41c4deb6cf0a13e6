"""Conversations in canonical form: the rules for stitching a stateful chain and for reasoning.

A stateless client resends the whole history, so one exchange holds its whole conversation. A
stateful one (Responses `previous_response_id`) sends only the new items: its conversation is the
one of the response it names, plus those items. A turn's tool-call ids are the set the next
request carries: vLLM streams other ids than it completes with, and clients send back either.
recorder/store/conversations.py finds the rows these rules work on.
"""

from __future__ import annotations

from typing import Any

from recorder.dialects.base import REDACTED
from recorder.dialects.chat_completions import REASONING_FIELDS


def reasoning_of(message: dict[str, Any]) -> str | None:
    for name in REASONING_FIELDS:
        if message.get(name):
            return str(message[name])
    return None


def continued(
    before: list[dict[str, Any]], asked: list[dict[str, Any]], alternates: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """`before` then the new items. New instructions replace the leading system messages; when the
    new tool results name the answer's alternate ids, the answer takes those ids."""
    history = list(before)
    lead = 0
    while lead < len(asked) and asked[lead].get("role") == "system":
        lead += 1
    if lead:
        kept = 0
        while kept < len(history) and history[kept].get("role") == "system":
            kept += 1
        history = asked[:lead] + history[kept:]
    carried = {m.get("tool_call_id") for m in asked if m.get("role") == "tool"}
    if alternates and history and history[-1].get("role") == "assistant":
        history[-1] = with_carried_ids(history[-1], carried, alternates)
    return history + asked[lead:]


def with_carried_ids(answer: dict[str, Any], carried: set[Any], alternates: dict[str, str]) -> dict[str, Any]:
    """The answer with the tool-call ids the next request carried back (either set is accepted)."""
    calls = answer.get("tool_calls") or []
    if not calls or any(c.get("id") in carried for c in calls):
        return answer
    if not any(alternates.get(c.get("id")) in carried for c in calls):
        return answer
    swapped = [{**c, "id": alternates.get(c.get("id"), c.get("id"))} for c in calls]
    return {**answer, "tool_calls": swapped}


def with_recorded_reasoning(message: dict[str, Any], generated: dict[str, Any] | None) -> dict[str, Any]:
    """An assistant message with the reasoning recorded when it was generated, under `reasoning_content`."""
    present = reasoning_of(message)
    recorded = reasoning_of(generated) if generated else None
    out = {k: v for k, v in message.items() if k not in REASONING_FIELDS}
    if present or recorded:
        out["reasoning_content"] = present or recorded
    if generated and generated.get(REDACTED):
        out[REDACTED] = True
    return out
