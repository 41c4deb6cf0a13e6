"""The checks every request passes before routing: Origin, Host, Content-Type, path, session key, size.

A web page in the user's browser can reach 127.0.0.1 too. These checks keep such a page (or a DNS
name rebound to 127.0.0.1) from driving the proxy: running MCP tools, or spending the configured
LLM key. A refused request is answered here and never reaches a relay, so it never gets the
`[llm].api_key_env` key and never reaches an upstream. Order: Origin (403), Host (421), path and
session key (400), Content-Type on MCP POSTs (400), declared size (413).

The hot path pays one pass over the header list and a few byte comparisons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from proxy.asgi import Scope
from proxy.config import ServerConfig

SESSION_HEADERS = (b"x-tracemill-session", b"x-claude-code-session-id", b"session-id", b"x-session-id")
_SESSION_RANK = {name: rank for rank, name in enumerate(SESSION_HEADERS)}
SESSION_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LOOPBACK_HOST = re.compile(rb"(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?")
_LOOPBACK_ORIGIN = re.compile(rb"https?://(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?")
_WILDCARD_BINDS = ("0.0.0.0", "::", "", "[::]")
LOOPBACK_BINDS = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(slots=True)
class Admitted:
    path: str  # without any /s/<key> prefix
    session: str | None  # from the prefix, else from a session header
    origin: bytes | None  # an allowed browser origin, if the request came from a page
    count_body: bool  # no Content-Length: the size is known only while reading, so count it


@dataclass(slots=True)
class Refusal:
    status: int
    kind: str
    message: str


class Guard:
    def __init__(self, server: ServerConfig) -> None:
        self.origins = frozenset(o.rstrip("/").lower().encode() for o in server.allowed_origins if not o.endswith(":*"))
        self.origin_prefixes = tuple(o[:-1].lower().encode() for o in server.allowed_origins if o.endswith(":*"))
        hosts = [h.lower() for h in server.allowed_hosts]
        bound = server.host.lower()
        if bound not in _WILDCARD_BINDS and bound not in LOOPBACK_BINDS:
            hosts.append(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)  # the address itself
        self.any_host = "*" in hosts
        self.hosts = frozenset(h.removesuffix(":*").encode() for h in hosts)
        self.max_body = server.max_request_bytes

    def check(self, scope: Scope) -> Admitted | Refusal:
        """Where the request goes and what it carries, or why it is refused."""
        origin = host = content_type = length = fetch_site = fetch_mode = None
        named: dict[bytes, bytes] = {}  # session headers present, by name
        for name, value in scope["headers"]:
            if name in _SESSION_RANK:
                if value:
                    named.setdefault(name, value)
            elif name == b"host":
                host = value
            elif name == b"origin":
                origin = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"sec-fetch-site":
                fetch_site = value
            elif name == b"sec-fetch-mode":
                fetch_mode = value
        if origin is not None:
            if not self.origin_allowed(origin):
                return Refusal(403, "origin_not_allowed", _origin_message(origin))
        elif fetch_site == b"cross-site" and fetch_mode != b"navigate":
            # A browser's no-cors request (an <img>, a <script>) from a foreign page carries no Origin.
            return Refusal(
                403, "origin_not_allowed", "tracemill: a cross-site browser request without an Origin is refused"
            )
        if host is None or not self.host_allowed(host):
            return Refusal(421, "host_not_allowed", _host_message(host))
        path = scope["path"]
        if ("." in path or "%" in path or "\\" in path) and _has_dot_segment(path):
            return Refusal(400, "bad_path", "tracemill: a path with '.' or '..' segments (encoded or not) is refused")
        session = None
        if path.startswith("/s/"):
            key, _, rest = path[3:].partition("/")
            if not SESSION_KEY.fullmatch(key):
                return Refusal(400, "bad_session_key", _key_message("the /s/<key> prefix"))
            path, session = "/" + rest, key
        elif named:
            name = min(named, key=_SESSION_RANK.__getitem__)  # the first of SESSION_HEADERS present
            session = named[name].decode("latin-1")
            if not SESSION_KEY.fullmatch(session):
                return Refusal(400, "bad_session_key", _key_message(f"the {name.decode()} header"))
        if path.startswith("/mcp/") and scope["method"] == "POST" and not _is_json(content_type):
            return Refusal(400, "bad_content_type", "tracemill: an MCP POST must have Content-Type: application/json")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return too_large(self.max_body)
        count_body = length is None and scope["method"] not in ("GET", "HEAD", "OPTIONS")
        return Admitted(path, session, origin, count_body)

    def origin_allowed(self, origin: bytes) -> bool:
        origin = origin.lower()
        if _LOOPBACK_ORIGIN.fullmatch(origin) or origin in self.origins:
            return True
        return any(origin.startswith(p) and origin[len(p) :].isdigit() for p in self.origin_prefixes)

    def host_allowed(self, host: bytes) -> bool:
        if _LOOPBACK_HOST.fullmatch(host):
            return True
        host = host.lower()
        if self.any_host or host in self.hosts:
            return True
        name, colon, port = host.rpartition(b":")
        return bool(colon) and port.isdigit() and name in self.hosts


def too_large(limit: int) -> Refusal:
    return Refusal(
        413,
        "request_too_large",
        f"tracemill: the request body is larger than [server] max_request_bytes = {limit}; raise it in proxy.toml",
    )


def is_loopback_bind(host: str) -> bool:
    return host.lower() in LOOPBACK_BINDS


def _is_json(content_type: bytes | None) -> bool:
    return content_type is not None and content_type[:16].lower() == b"application/json"


def _has_dot_segment(path: str) -> bool:
    # Decoded once more too: a double-encoded %252e%252e is a dot segment to a sloppy upstream.
    return any(seg in (".", "..") for text in (path, unquote(path)) for seg in re.split(r"[/\\]", text))


def _origin_message(origin: bytes) -> str:
    return (
        f"tracemill: Origin {origin.decode('latin-1')[:200]!r} is not allowed. A browser client on another "
        "origin must be listed in [server] allowed_origins in proxy.toml"
    )


def _host_message(host: bytes | None) -> str:
    shown = "missing" if host is None else repr(host.decode("latin-1")[:200])
    return (
        f"tracemill: Host {shown} is not allowed (only localhost, 127.0.0.1 and [::1] by default). Behind a "
        "reverse proxy or on another address, list the name in [server] allowed_hosts in proxy.toml"
    )


def _key_message(where: str) -> str:
    return f"tracemill: the session key in {where} must be 1 to 128 characters of A-Z a-z 0-9 . _ : -"
