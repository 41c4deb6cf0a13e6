"""Do recorded ids belong to the recorded answer? Decode them and look for the answer in the text.

The ids are the truth (what the model sampled); the recorded answer is what the server's parsers
made of them. So the check reads the decoded text in order: the reasoning, then the content, then
each tool call's name followed by arguments equal as JSON (a hermes-style parser re-serialises
them with its own whitespace). Ids that decode to the answer match even where re-encoding the
answer would give other ids: that difference is the drift the ids exist to avoid.
"""

from __future__ import annotations

import json
from typing import Any

REASONING_FIELDS = ("reasoning_content", "reasoning")


def decode(tokenizer: Any, ids: list[int]) -> str:
    return str(tokenizer.decode(ids, skip_special_tokens=False))


def mismatch(decoded: str, message: dict[str, Any]) -> str | None:
    """Why `decoded` is not the text that produced `message`, or None when it is."""
    at = 0
    reasoning = next((message[f] for f in REASONING_FIELDS if isinstance(message.get(f), str) and message[f]), "")
    content = message.get("content") if isinstance(message.get("content"), str) else ""
    for what, piece in (("reasoning", reasoning.strip()), ("content", (content or "").strip())):
        if not piece:
            continue
        found = decoded.find(piece, at)
        if found < 0:
            return f"the {what} is not in the decoded ids"
        at = found + len(piece)
    decoder = json.JSONDecoder()
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        name = fn.get("name") or ""
        found = decoded.find(name, at)
        if not name or found < 0:
            return f"tool call {name!r} is not in the decoded ids"
        brace = decoded.find("{", found + len(name))
        try:
            generated, end = decoder.raw_decode(decoded, brace) if brace >= 0 else (None, at)
            recorded = (
                json.loads(fn.get("arguments") or "{}") if isinstance(fn.get("arguments"), str) else fn.get("arguments")
            )
        except ValueError:
            return f"the arguments of {name!r} do not parse"
        if generated != recorded:
            return f"the arguments of {name!r} differ from the decoded ids"
        at = end
    return None
