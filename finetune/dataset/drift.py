"""Drift: where re-rendering the recorded messages through the chat template gives other tokens
than the ones the model generated.

For each assistant turn with recorded completion ids, the episode is rendered the way a training
row would be (the whole conversation, or with `unrolled` each turn as the last message of its own
row, as `tracemill finetune` trains by default), the turn's span is cut out of the rendering, and
its ids are compared with the recorded ones. The first divergence is shown decoded on both sides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.dataset.row import clean_message
from finetune.dataset.token_match import decode
from recorder import Filters, open_reader
from recorder.store.token_queries import TokenCall

SAME, SPLIT, TEXT, NO_IDS, UNRENDERED = "same", "split", "text", "no ids", "unrendered"
WINDOW = 10  # tokens shown on each side of a divergence


@dataclass
class TurnDrift:
    episode: int
    turn: int
    exchange: int | None
    status: str  # same, split (same text, other tokens), text (other text), no ids, unrendered
    at: int | None = None  # the first differing token within the turn
    context: str = ""  # decoded, the tokens just before the divergence (the same on both sides)
    recorded: str = ""  # decoded from the divergence on
    rendered: str = ""
    recorded_tokens: list[str] = field(default_factory=list)  # the same, token by token
    rendered_tokens: list[str] = field(default_factory=list)
    tokens: int = 0  # recorded completion ids

    @property
    def drifts(self) -> bool:
        return self.status in (SPLIT, TEXT)


class DriftError(ValueError):
    """A tokenizer that cannot render the episode (no chat template, say), in one line."""


def _render(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]], prompt: bool = False) -> str:
    try:
        return str(
            tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=False, add_generation_prompt=prompt)
        )
    except Exception as exc:  # jinja errors, a tokenizer without a template
        raise DriftError(f"the tokenizer's chat template cannot render this episode: {exc}") from None


def _ids_in(tokenizer: Any, text: str, start: int, end: int) -> list[int]:
    """The ids of `text`'s tokenization that fall inside [start, end)."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [
        t
        for t, (a, b) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
        if a >= start and b <= end and b > a
    ]


def _whole_spans(
    tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> tuple[str, list[tuple[int, int]]]:
    """The whole conversation rendered, and each assistant turn's span in it: from after the
    generation prompt (e.g. `<|im_start|>assistant\\n`) to the end-of-turn token, included."""
    text = _render(tokenizer, messages, tools)
    first = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), len(messages))
    opened = _render(tokenizer, messages[:first], tools, prompt=True)
    closed = _render(tokenizer, messages[:first], tools)
    marker = opened[len(closed) :] if opened.startswith(closed) and len(opened) > len(closed) else "assistant\n"
    eos = tokenizer.eos_token or ""
    spans, at = [], 0
    for message in messages:
        if message.get("role") != "assistant":
            continue
        start = text.find(marker, at)
        if start < 0:
            spans.append((len(text), len(text)))
            continue
        start += len(marker)
        end = text.find(eos, start) if eos else -1
        end = len(text) if end < 0 else end + len(eos)
        spans.append((start, end))
        at = end
    return text, spans


def rendered_turns(
    tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]], unrolled: bool
) -> list[list[int]]:
    """The template's ids for each assistant turn, in order."""
    from finetune.train.template import TemplateError, prompt_completion

    if not unrolled:
        text, spans = _whole_spans(tokenizer, messages, tools)
        return [_ids_in(tokenizer, text, a, b) for a, b in spans]
    out: list[list[int]] = []
    for j, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        try:
            prompt, completion = prompt_completion(tokenizer, messages[: j + 1], tools)
        except TemplateError:
            out.append([])
            continue
        out.append(_ids_in(tokenizer, prompt + completion, len(prompt), len(prompt + completion)))
    return out


def compare(tokenizer: Any, episode: int, turn: int, call: TokenCall | None, rendered: list[int]) -> TurnDrift:
    if call is None or call.status != "captured" or not call.completion_ids:
        return TurnDrift(episode, turn, call.exchange_id if call else None, NO_IDS)
    recorded = call.completion_ids
    result = TurnDrift(episode, turn, call.exchange_id, SAME, tokens=len(recorded))
    if not rendered:
        result.status = UNRENDERED
    elif recorded != rendered:
        at = next(
            (i for i, (a, b) in enumerate(zip(recorded, rendered, strict=False)) if a != b),
            min(len(recorded), len(rendered)),
        )
        result.status = SPLIT if decode(tokenizer, recorded) == decode(tokenizer, rendered) else TEXT
        result.at = at
        result.context = decode(tokenizer, recorded[max(0, at - WINDOW // 2) : at])
        result.recorded = decode(tokenizer, recorded[at : at + WINDOW])
        result.rendered = decode(tokenizer, rendered[at : at + WINDOW])
        result.recorded_tokens = [decode(tokenizer, [t]) for t in recorded[at : at + WINDOW]]
        result.rendered_tokens = [decode(tokenizer, [t]) for t in rendered[at : at + WINDOW]]
    return result


def episode_drift(tokenizer: Any, episode: Any, calls: list[TokenCall], unrolled: bool = False) -> list[TurnDrift]:
    """One TurnDrift per assistant turn of the episode, in order."""
    messages = [clean_message(m) for m in episode.messages]
    by_turn = {call.turn: call for call in calls}
    return [
        compare(tokenizer, episode.id, turn, by_turn.get(turn), ids)
        for turn, ids in enumerate(rendered_turns(tokenizer, messages, episode.tools, unrolled), start=1)
    ]


@dataclass
class DriftSummary:
    episodes: int = 0
    turns: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    worst: list[tuple[int, int]] = field(default_factory=list)  # (drifting turns, episode)

    @property
    def drifting(self) -> int:
        return self.counts[SPLIT] + self.counts[TEXT]


def drift_of(db_path: str | Path, tokenizer: Any, episode_id: int, unrolled: bool = False) -> list[TurnDrift]:
    with open_reader(db_path) as reader:
        episode = reader.episode(episode_id)
        if episode is None:
            raise LookupError(f"no episode {episode_id} (see `tracemill traces list`)")
        return episode_drift(tokenizer, episode, reader.token_calls(episode_id), unrolled)


def iter_drift(
    db_path: str | Path, tokenizer: Any, filters: Filters, unrolled: bool = False
) -> Iterator[list[TurnDrift]]:
    with open_reader(db_path) as reader:
        for episode, _ in reader.iter_episodes(filters):
            yield episode_drift(tokenizer, episode, reader.token_calls(episode.id), unrolled)


def summarise(db_path: str | Path, tokenizer: Any, filters: Filters, unrolled: bool = False) -> DriftSummary:
    summary = DriftSummary()
    for turns in iter_drift(db_path, tokenizer, filters, unrolled):
        summary.episodes += 1
        summary.turns += len(turns)
        summary.counts.update(t.status for t in turns)
        drifting = sum(1 for t in turns if t.drifts)
        if drifting and turns:
            summary.worst.append((drifting, turns[0].episode))
    summary.worst.sort(reverse=True)
    return summary
