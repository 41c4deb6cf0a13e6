"""Secrets out before anything is written: auth headers, known key values, configured regexes."""

from __future__ import annotations

import re
from collections.abc import Iterable

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie"}
)
MASK = "[REDACTED]"


def bearer_value(value: str) -> str:
    """The secret part of an auth header value: 'Bearer sk-x' -> 'sk-x'."""
    scheme, _, rest = value.partition(" ")
    return rest.strip() if rest and scheme.lower() in ("bearer", "basic", "token") else value.strip()


class Redactor:
    """Scrubs headers and text. Secrets shorter than 8 characters are ignored to avoid mangling."""

    def __init__(self, secrets: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.secrets = tuple(s for s in secrets if s and len(s) >= 8)
        self.patterns = [re.compile(p) for p in patterns]

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, MASK if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers]

    def text(self, text: str, extra: Iterable[str] = ()) -> str:
        for secret in (*self.secrets, *(s for s in extra if s and len(s) >= 8)):
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in self.patterns:
            text = pattern.sub(MASK, text)
        return text

    def blob(self, data: bytes, extra: Iterable[str] = ()) -> bytes:
        for secret in (*self.secrets, *(s for s in extra if s and len(s) >= 8)):
            data = data.replace(secret.encode(), MASK.encode())
        if self.patterns:
            data = self.text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        return data
