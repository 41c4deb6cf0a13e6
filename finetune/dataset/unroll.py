"""Unrolling a multi-turn episode into training rows.

`assistant` (the default): one row per assistant message, holding the messages up to and
including it. Qwen3's template drops the reasoning of earlier assistant turns, so this is the
only way every reasoning block ends up as the last turn of some row, and so in the loss.

`user-turns`: the reference workshop's cut, one row per user message, ending at the first
assistant reply after it. Reasoning of the intermediate tool-calling turns is lost this way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MODES = ("assistant", "user-turns")


def cut_points(messages: list[dict[str, Any]], mode: str = "assistant") -> list[int]:
    if mode not in MODES:
        raise ValueError(f"unroll mode must be one of {MODES}, not {mode!r}")
    if mode == "assistant":
        return [k for k, m in enumerate(messages) if m.get("role") == "assistant"]
    cuts = []
    for u, m in enumerate(messages):
        if m.get("role") == "user":
            reply = next((k for k in range(u + 1, len(messages)) if messages[k].get("role") == "assistant"), None)
            if reply is not None and reply not in cuts:
                cuts.append(reply)
    return cuts


def unroll(row: dict[str, Any], mode: str = "assistant") -> Iterator[dict[str, Any]]:
    for turn, k in enumerate(cut_points(row["messages"], mode), start=1):
        yield {
            **row,
            "id": f"{row['id']}#{turn}",
            "parent_id": row["id"],
            "turn": turn,
            "messages": row["messages"][: k + 1],
        }
