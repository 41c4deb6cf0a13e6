"""Training examples straight from token rows (`tracemill export --format tokens`): no chat template
and no re-encoding, so the model learns the very ids it generated. Labels are the ids where
`loss_mask` is 1 and -100 everywhere else."""

from __future__ import annotations

from typing import Any


def examples(rows: list[dict[str, Any]], max_length: int) -> tuple[list[dict[str, list[int]]], int]:
    """(examples, rows skipped): a row is skipped when its mask does not fit its ids, or when
    nothing is left to learn once cut to `max_length`."""
    out, skipped = [], 0
    for row in rows:
        ids, mask = list(row.get("input_ids") or []), list(row.get("loss_mask") or [])
        if not ids or len(ids) != len(mask):
            skipped += 1
            continue
        ids, mask = ids[:max_length], mask[:max_length]
        if not any(mask):
            skipped += 1
            continue
        out.append(
            {"input_ids": ids, "labels": [token if keep else -100 for token, keep in zip(ids, mask, strict=True)]}
        )
    return out, skipped
