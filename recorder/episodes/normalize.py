"""Messages in a normalised form, for comparing what an agent resent with what was recorded.

JSON-argument whitespace, `reasoning` versus `reasoning_content`, and a client that drops earlier
reasoning must not break a chain, so reasoning is left out and arguments are canonicalised.
Parts that are not text (images, audio, files) count by a digest: another image is another message.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from recorder.canonical import canonical_json


def text_of(content: Any) -> str:
    """A message's content as plain text (a list of parts is joined): what is hashed, with digests of other parts."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def readable_text(content: Any) -> str:
    """Message content for people (the CLI and the viewer): text parts on their own lines, other parts
    named (`[image_url https://…]`), never dumped."""
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict):
                image = part.get("image_url")
                url = str(image.get("url", "")) if isinstance(image, dict) else ""
                shown = f" {url[:60]}" if url and not url.startswith("data:") else ""
                parts.append(f"[{part.get('type', 'part')}{shown}]")
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def canonical_args(arguments: Any) -> str:
    if isinstance(arguments, str):
        text = arguments
        try:
            arguments = json.loads(text)
        except ValueError:
            return text.strip()
    return canonical_json(arguments)


def _media(content: Any) -> list[str]:
    """Digests of the parts that are not text, in order."""
    if not isinstance(content, list):
        return []
    return [
        hashlib.sha256(json.dumps(p, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        for p in content
        if isinstance(p, dict) and p.get("type", "text") != "text"
    ]


def normalize(message: dict[str, Any]) -> list[Any]:
    role = message.get("role")
    calls = [
        [c.get("id"), (c.get("function") or {}).get("name"), canonical_args((c.get("function") or {}).get("arguments"))]
        for c in message.get("tool_calls") or []
    ]
    media = _media(message.get("content"))
    return [
        role,
        text_of(message.get("content")).strip(),
        calls,
        message.get("tool_call_id"),
        *([media] if media else []),
    ]


def chain(messages: list[dict[str, Any]]) -> list[str]:
    """Prefix hashes: element k identifies messages[: k + 1]."""
    out, h = [], hashlib.sha256()
    for message in messages:
        h.update(json.dumps(normalize(message), ensure_ascii=False).encode())
        h.update(b"\x00")
        out.append(h.copy().hexdigest()[:32])
    return out
