"""Train/test splits that keep whole episodes on one side, for export and for finetune alike.

A row's side is decided by a stable hash of its episode's id (`parent_id` for unrolled rows), so
an episode's rows never straddle the split and the same ratio always gives the same split.
"""

from __future__ import annotations

import hashlib
from typing import Any


class SplitError(ValueError):
    """A split that leaves one side empty, phrased for the user."""


def split_key(row: dict[str, Any]) -> str:
    """The episode a row belongs to: its parent for an unrolled row, else itself."""
    return str(row.get("parent_id") or row["id"])


def in_test(episode_id: str, ratio: float) -> bool:
    """Whole episodes go to one side: a stable hash of the episode id decides."""
    if ratio <= 0:
        return False
    digest = int(hashlib.sha256(episode_id.encode()).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < ratio


def side(row: dict[str, Any], ratio: float) -> str:
    """'test' or 'train' for one row."""
    return "test" if in_test(split_key(row), ratio) else "train"


def split(rows: list[dict[str, Any]], ratio: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hold out whole episodes: every row of one episode lands on the same side. Both sides must be non-empty."""
    if ratio <= 0:
        return rows, []
    train = [r for r in rows if side(r, ratio) == "train"]
    held = [r for r in rows if side(r, ratio) == "test"]
    if not train or not held:
        raise SplitError(
            f"--eval-split {ratio} leaves one side empty ({len(rows)} rows); record more episodes or change the split"
        )
    return train, held
