"""The LLM API dialects tracemill understands, and how to find the one an exchange speaks.

Adding a dialect: one new module exposing `DIALECT` (see `base.Dialect`) and one line in `DIALECTS`.
"""

from __future__ import annotations

from recorder.dialects import anthropic_messages, chat_completions, responses
from recorder.dialects.base import Dialect

DIALECTS: tuple[Dialect, ...] = (
    chat_completions.DIALECT,
    responses.DIALECT,
    anthropic_messages.DIALECT,
)


def dialect_for(method: str, path: str) -> Dialect | None:
    """The dialect an HTTP exchange speaks, or None for other paths (recorded raw)."""
    return next((d for d in DIALECTS if d.matches(method, path)), None)


def by_name(name: str | None) -> Dialect | None:
    """The dialect stored under `name` in `exchanges.dialect`."""
    return next((d for d in DIALECTS if d.name == name), None)
