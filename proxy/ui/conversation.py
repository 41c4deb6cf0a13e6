"""An episode as the page shows it: messages with folds, pretty tool calls, links and turn figures.

Long text is folded: the page carries a short preview and the fold's address, and the full text
is fetched when the fold is opened. A 500-turn episode with 100 KB tool results thus renders a
page of previews, not of megabytes. All text stays plain here; the templates escape it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from recorder.episodes.chain import Episode
from recorder.episodes.curation import Curation
from recorder.episodes.normalize import readable_text

text_of = readable_text  # message content for people (shared with the CLI)

PREVIEW_LINES = 6
PREVIEW_CHARS = 600
INLINE_CHARS = 2000  # shorter folds (reasoning, a system prompt) travel inside the page


@dataclass
class Fold:
    """A piece of text: `text` is all of it, or a preview when `lazy` names where the rest is."""

    label: str
    text: str
    size: int
    lines: int
    lazy: str | None = None

    @property
    def folded(self) -> bool:
        return self.lazy is not None


@dataclass
class Call:
    index: int
    id: str
    name: str
    arguments: Fold
    edited: bool = False


@dataclass
class Turn:
    index: int
    role: str
    content: Fold | None = None
    reasoning: Fold | None = None
    calls: list[Call] = field(default_factory=list)
    tool_call_id: str | None = None
    tool_name: str | None = None
    link: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    dropped: bool = False
    edited: bool = False
    original: str | None = None  # the recorded turn, when an edit replaces it in exports


def pretty_json(arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return arguments
        return json.dumps(parsed, indent=2, ensure_ascii=False)
    return json.dumps(arguments, indent=2, ensure_ascii=False)


def fold(label: str, text: str, url: str, *, always: bool = False) -> Fold:
    """Inline when short; else a preview of the first lines and the address of the full text."""
    lines = text.count("\n") + 1 if text else 0
    if len(text) <= INLINE_CHARS and (always or (lines <= PREVIEW_LINES and len(text) <= PREVIEW_CHARS)):
        return Fold(label, text, len(text), lines)
    end = -1
    for _ in range(PREVIEW_LINES):  # the preview's end, found without splitting a 100 KB text into lines
        end = text.find("\n", end + 1, PREVIEW_CHARS)
        if end < 0:
            break
    preview = text[: end if end >= 0 else PREVIEW_CHARS]
    return Fold(label, preview, len(text), lines, lazy=url)


def turns(
    episode: Episode,
    curation: Curation,
    linked: dict[str, Any],
    stats: dict[int, dict[str, Any]],
    base: str,
    start: int = 0,
    end: int | None = None,
) -> list[Turn]:
    """Messages start..end (all by default) as turns; the page renders a long episode a chunk at a time."""
    names = {
        c.get("id"): (c.get("function") or {}).get("name") for m in episode.messages for c in m.get("tool_calls") or []
    }
    out = []
    for k in range(start, min(len(episode.messages), len(episode.messages) if end is None else end)):
        recorded = episode.messages[k]
        message = curation.edited(k, recorded)
        role = str(message.get("role") or "?")
        part = f"{base}/part/{k}"
        turn = Turn(
            index=k,
            role=role,
            tool_call_id=message.get("tool_call_id"),
            stats=stats.get(k) if role == "assistant" else None,
        )
        turn.dropped = curation.drops(k) or (curation.strip_system and role == "system")
        turn.edited = k in curation.edits
        if turn.edited:
            calls = [
                f"⚙ {(c.get('function') or {}).get('name')} {(c.get('function') or {}).get('arguments')}"
                for c in recorded.get("tool_calls") or []
            ]
            turn.original = "\n".join([text_of(recorded.get("content")), *calls]).strip()
        text = text_of(message.get("content"))
        if role == "system":
            turn.content = fold("system prompt", text, f"{part}/content", always=True)
        elif text:  # a tool result folds past a few lines; a user or assistant text only when long
            turn.content = fold(
                "tool result" if role == "tool" else "full text", text, f"{part}/content", always=role != "tool"
            )
        if message.get("reasoning_content"):
            turn.reasoning = fold("reasoning", str(message["reasoning_content"]), f"{part}/reasoning", always=True)
        edits = (curation.edits.get(k) or {}).get("arguments") or {}
        for i, call in enumerate(message.get("tool_calls") or []):
            fn = call.get("function") or {}
            args = fold("arguments", pretty_json(fn.get("arguments")), f"{part}/args/{i}", always=True)
            turn.calls.append(Call(i, str(call.get("id") or ""), str(fn.get("name") or "?"), args, edited=i in edits))
        if turn.tool_call_id:
            turn.tool_name = names.get(turn.tool_call_id)
            turn.link = linked.get(turn.tool_call_id)
        out.append(turn)
    return out


def full_text(
    episode: Episode, curation: Curation, linked: dict[str, Any], index: int, what: str, arg: int | None = None
) -> str | None:
    """The whole text behind a fold: content, reasoning, a tool call's arguments, or the linked MCP result."""
    if not 0 <= index < len(episode.messages):
        return None
    message = curation.edited(index, episode.messages[index])
    if what == "content":
        return text_of(message.get("content"))
    if what == "reasoning":
        return str(message.get("reasoning_content") or "")
    if what == "args":
        calls = message.get("tool_calls") or []
        return (
            pretty_json((calls[arg].get("function") or {}).get("arguments"))
            if arg is not None and 0 <= arg < len(calls)
            else None
        )
    if what == "mcp":
        link = linked.get(message.get("tool_call_id") or "")
        return pretty_json(link["result"]) if link else None
    return None
