"""Episodes: the exchanges of one agent run, chained by their message prefixes, in every dialect.

Each exchange is read in canonical chat form (its dialect translates it). An agent resends the
whole history on every call, so an exchange whose request starts with an earlier exchange's
request plus its answer continues that episode; a Responses request naming `previous_response_id`
continues the episode of that response; anything else starts one (an edit or a restart).
This module holds the rules; recorder/store/chaining.py applies them, incrementally, to the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recorder.dialects.base import COMPLETE, Canonical
from recorder.episodes.normalize import chain


@dataclass
class Episode:
    id: int
    session: str | None
    source: str
    started_at: float
    model: str | None
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    exchange_ids: list[int] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    final_state: str = COMPLETE  # the last answer's completion state: complete, truncated or incomplete
    final_reason: str | None = None
    dialect: str | None = None

    @property
    def cut_off(self) -> bool:
        """Whether the last answer did not finish (truncated or incomplete): not a turn to train on by default."""
        return self.final_state != COMPLETE and bool(self.messages) and self.messages[-1].get("role") == "assistant"


@dataclass
class Turn:
    """What one exchange adds to its episode, worked out before anything is written."""

    exchange_id: int
    session: str | None
    started_at: float
    model: str | None
    source: str  # proxy or import
    state: str  # the answer's completion state
    asked: list[dict[str, Any]]  # the whole conversation it was asked (a stateful one continued)
    answer: dict[str, Any] | None
    hashes: list[str]  # prefix hashes of asked + answer
    alt_hash: str | None  # the same with the answer's alternate tool-call ids
    answered_at: float
    tokens: tuple[int, int]
    canonical: Canonical
    conversation: list[dict[str, Any]]  # asked + answer
    continues_exchange: int | None = None  # the exchange a stateful request continues

    @property
    def turns(self) -> int:
        return sum(1 for m in self.conversation if m.get("role") == "assistant")

    @property
    def tool_calls(self) -> int:
        return sum(len(m.get("tool_calls") or []) for m in self.conversation)

    @property
    def first_user(self) -> str | None:
        return first_user(self.conversation)

    @property
    def returned(self) -> list[str]:
        """The tool_call_ids whose results this request carries back."""
        return [m["tool_call_id"] for m in self.asked if m.get("role") == "tool" and m.get("tool_call_id")]


def turn(row: dict[str, Any], canonical: Canonical, asked: list[dict[str, Any]], continues: int | None) -> Turn:
    """The turn an exchange row adds, given its canonical form and the whole conversation it was asked."""
    answer = canonical.answer
    conversation = asked + ([answer] if answer else [])
    variants = canonical.answer_variants()
    return Turn(
        exchange_id=row["id"],
        session=row["session"],
        started_at=row["started_at"],
        model=row["model"],
        source="import" if row["method"] == "IMPORT" else "proxy",
        state=row["completion_state"] or COMPLETE,
        asked=asked,
        answer=answer,
        hashes=chain(conversation),
        alt_hash=chain([*asked, variants[1]])[-1] if len(variants) > 1 else None,
        answered_at=row["started_at"] + (row["duration_ms"] or 0) / 1000,
        tokens=(row["prompt_tokens"] or 0, row["completion_tokens"] or 0),
        canonical=canonical,
        conversation=conversation,
        continues_exchange=continues,
    )


def prefix_points(turn: Turn) -> list[int]:
    """Where an earlier answer may end inside this conversation: assistant indices, longest prefix first."""
    conversation = turn.conversation
    return [k for k in range(len(conversation) - 2, -1, -1) if conversation[k].get("role") == "assistant"]


def first_user(messages: list[dict[str, Any]]) -> str | None:
    """The first user message as text, for listings and search."""
    for m in messages:
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):  # text parts only, spaced: a listing's one line
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")[:500]
    return None
