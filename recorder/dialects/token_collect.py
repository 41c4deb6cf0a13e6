"""Which ids an answer carried, read from vLLM's token-id fields (see token_ids.py): per choice,
the prompt ids, the completion ids in order and their logprobs, and what does not add up (a chunk
with text but no ids, counts that disagree with the usage). The recorder's side: never on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from recorder.dialects.token_ids import CHAT, COMPLETIONS


@dataclass
class ChoiceIds:
    """The ids one choice came with, gathered from a body or a whole stream."""

    index: int
    prompt_ids: list[int] | None = None
    completion_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    saw_ids: bool = False
    problems: list[str] = field(default_factory=list)


def _ints(value: Any) -> list[int] | None:
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value
    return None


def _logprobs(kind: str, value: Any) -> list[float]:
    """The sampled tokens' logprobs from a choice's `logprobs` object, in order."""
    if not isinstance(value, dict):
        return []
    if kind == CHAT:
        return [
            float(e["logprob"])
            for e in value.get("content") or []
            if isinstance(e, dict) and isinstance(e.get("logprob"), (int, float))
        ]
    return [float(v) if isinstance(v, (int, float)) else float("nan") for v in value.get("token_logprobs") or []]


def _text_arrived(kind: str, choice: dict[str, Any]) -> bool:
    if kind == COMPLETIONS:
        return bool(choice.get("text"))
    delta = choice.get("delta") or {}
    if any(isinstance(v, str) and v for k, v in delta.items() if k != "role"):
        return True
    return any(((c or {}).get("function") or {}).get("arguments") for c in delta.get("tool_calls") or [])


def collect(kind: str, bodies: Iterable[Any], stream: bool) -> tuple[dict[int, ChoiceIds], dict[str, Any] | None]:
    """Every choice's ids from a whole body (one item) or a stream's parsed chunks; plus the usage seen."""
    choices: dict[int, ChoiceIds] = {}
    prompt: list[int] | None = None
    usage = None
    for n, obj in enumerate(bodies):
        if not isinstance(obj, dict):
            continue
        prompt = prompt or _ints(obj.get("prompt_token_ids"))
        usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else usage
        for raw in obj.get("choices") or []:
            if not isinstance(raw, dict):
                continue
            index = raw.get("index", 0) if isinstance(raw.get("index"), int) else 0
            choice = choices.setdefault(index, ChoiceIds(index))
            choice.prompt_ids = choice.prompt_ids or _ints(raw.get("prompt_token_ids"))
            ids = _ints(raw.get("token_ids"))
            if ids is not None:
                choice.saw_ids = True
                choice.completion_ids.extend(ids)
            elif stream and (_text_arrived(kind, raw) or raw.get("finish_reason")):
                choice.problems.append(f"chunk {n} carried text but no token_ids")
            choice.logprobs.extend(_logprobs(kind, raw.get("logprobs")))
    for choice in choices.values():
        choice.prompt_ids = choice.prompt_ids or prompt
    return choices, usage


def check(choices: dict[int, ChoiceIds], usage: dict[str, Any] | None) -> None:
    """Add the problems a set of choices shows as a whole: missing prompt ids, counts that disagree."""
    total = 0
    for choice in choices.values():
        if not choice.saw_ids:
            continue
        total += len(choice.completion_ids)
        if choice.prompt_ids is None:
            choice.problems.append("no prompt_token_ids")
        if choice.logprobs and len(choice.logprobs) != len(choice.completion_ids):
            choice.problems.append(f"{len(choice.logprobs)} logprobs for {len(choice.completion_ids)} ids")
        said = (usage or {}).get("prompt_tokens")
        if isinstance(said, int) and choice.prompt_ids is not None and said != len(choice.prompt_ids):
            choice.problems.append(f"usage says {said} prompt tokens, {len(choice.prompt_ids)} ids came")
    seen = [c for c in choices.values() if c.saw_ids]
    said = (usage or {}).get("completion_tokens")
    if seen and len(seen) == len(choices) and isinstance(said, int) and said != total:
        seen[0].problems.append(f"usage says {said} completion tokens, {total} ids came")


def parse_stream(body: bytes) -> Iterator[Any]:
    """The JSON chunks of an SSE body (the recorder's side; the hot path never calls this)."""
    from recorder.sse import parse_all

    for event in parse_all([body]):
        data = event.data.strip()
        if data and data != "[DONE]":
            try:
                yield json.loads(data)
            except (ValueError, RecursionError):
                continue
