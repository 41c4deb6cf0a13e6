"""Messages in a normalised form, for comparing what an agent resent with what was recorded.

JSON-argument whitespace, `reasoning` versus `reasoning_content`, and a client that drops earlier
reasoning must not break a chain, so reasoning is left out and arguments are canonicalised.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def text_of(content: Any) -> str:
    """A message's content as plain text (a list of parts is joined)."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def canonical_args(arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments.strip()
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalize(message: dict[str, Any]) -> list[Any]:
    role = message.get("role")
    calls = [
        [c.get("id"), (c.get("function") or {}).get("name"), canonical_args((c.get("function") or {}).get("arguments"))]
        for c in message.get("tool_calls") or []
    ]
    return [role, text_of(message.get("content")).strip(), calls, message.get("tool_call_id")]


def chain(messages: list[dict[str, Any]]) -> list[str]:
    """Prefix hashes: element k identifies messages[: k + 1]."""
    out, h = [], hashlib.sha256()
    for message in messages:
        h.update(json.dumps(normalize(message), ensure_ascii=False).encode())
        h.update(b"\x00")
        out.append(h.copy().hexdigest()[:32])
    return out
