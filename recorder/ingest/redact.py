"""Secrets out before anything is written: auth headers, known key values, configured regexes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

# Headers that carry a client's own key: its presence means "do not add the configured key".
KEY_HEADERS = (b"authorization", b"api-key", b"x-api-key", b"x-goog-api-key", b"anthropic-api-key")
SENSITIVE_HEADERS = frozenset(
    {
        *(h.decode() for h in KEY_HEADERS),
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",
        "ocp-apim-subscription-key",
    }
)
# Other names that look like they carry a secret (x-foo-api-key, x-my-secret, x-session-token…).
_SECRET_HEADER = re.compile(r"api[-_]?key|secret|passw|(^|-)token$|credential", re.IGNORECASE)
# Query parameters whose values are secrets: ?key=, ?api_key=, ?access_token=, ?sig=…
_SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session", re.IGNORECASE)
MASK = "[REDACTED]"


def sensitive_header(name: str) -> bool:
    name = name.lower()
    return name in SENSITIVE_HEADERS or _SECRET_HEADER.search(name) is not None


def mask_url(url: str) -> str:
    """The URL with its userinfo and key-like query values masked, whatever their length."""
    scheme, sep, rest = url.partition("://")
    if sep:
        authority, slash, tail = rest.partition("/")
        if "@" in authority:
            authority = MASK + "@" + authority.rpartition("@")[2]
        url = scheme + sep + authority + slash + tail
    head, q, query = url.partition("?")
    if not q:
        return url
    query, hash_, fragment = query.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        pairs.append(name + eq + MASK if eq and value and _SECRET_PARAM.search(unquote(name)) else pair)
    return head + q + "&".join(pairs) + hash_ + fragment


def url_secrets(url: str) -> list[str]:
    """The secret values a URL carries (userinfo, key-like query values), raw and decoded."""
    found: list[str] = []
    rest = url.partition("://")[2]
    authority = rest.partition("/")[0]
    if "@" in authority:
        userinfo = authority.rpartition("@")[0]
        found += [userinfo, *userinfo.split(":", 1)]
    for pair in url.partition("?")[2].partition("#")[0].split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _SECRET_PARAM.search(unquote(name)):
            found += [value, unquote(value)]
    return [v for v in found if v]


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Values of key headers, cookies and set-cookies, to be masked where a body echoes them."""
    found: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            found += [pair.partition("=")[2].strip() for pair in value.split(";")]
        elif lower == "set-cookie":
            found.append(value.partition(";")[0].partition("=")[2].strip())
        elif sensitive_header(lower):
            found += [value.strip(), bearer_value(value)]
    return [v for v in found if v]


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
        return [(k, MASK if sensitive_header(k) else v) for k, v in headers]

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
