"""The viewer's gate: who may look, and which requests may change anything.

- Every state-changing request (POST, PUT, PATCH, DELETE) must carry the viewer's own Origin and
  the per-process token (`X-Tracemill-Token` header or `token` form field); else 403, before the
  request reaches a handler, so nothing is written. A page the user visits elsewhere can neither
  send our Origin nor read the token.
- The Host must be a loopback name or the address the viewer is bound to (DNS rebinding), else 421.
- Bound to an address that is not loopback, the viewer is off unless `[ui] token` is set; with a
  token it asks for it once per browser (an HttpOnly, SameSite=Strict cookie remembers it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from proxy.asgi import Receive, Scope, Send, header

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
MAX_FORM_BYTES = 8 * 1024 * 1024  # an edited turn may be long; nothing legitimate is larger
COOKIE = "tracemill_ui"
OPEN_PATHS = ("/ui/login", "/ui/static/")  # reachable before the login token is given


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hostname(host_header: str) -> str:
    """The name part of a Host header: `[::1]:4000` -> `[::1]`, `localhost:4000` -> `localhost`."""
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """ASGI middleware in front of the viewer app."""

    def __init__(
        self,
        app: Any,
        *,
        bind_host: str,
        login_token: str = "",
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.csrf_token = secrets.token_urlsafe(32)  # per process: pages embed it, foreign pages cannot read it
        self.login_token = login_token
        self.bind_host = bind_host
        self.off = not is_loopback(bind_host) and not login_token
        self.hosts = {*LOOPBACK_NAMES, *allowed_hosts} | (
            {bind_host} if bind_host not in ("0.0.0.0", "::", "") else set()
        )
        self.origins = set(allowed_origins)
        self.cookie_value = (
            hmac.new(login_token.encode(), b"tracemill-ui", hashlib.sha256).hexdigest() if login_token else ""
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.off:
            await _text(
                send,
                403,
                f"The tracemill viewer is off: this server is bound to {self.bind_host}, "
                "which is not a loopback address. "
                "Set [ui] token in proxy.toml to turn it on; it will then ask for that token.",
            )
            return
        host = (header(scope["headers"], b"host") or b"").decode("latin-1")
        if not self.login_token and hostname(host) not in self.hosts:
            await _text(send, 421, f"Host {host!r} is not this viewer's address; open it at http://127.0.0.1:<port>/ui")
            return
        if scope["method"] not in SAFE_METHODS:
            origin = (header(scope["headers"], b"origin") or b"").decode("latin-1")
            if origin != f"{scope.get('scheme', 'http')}://{host}" and origin not in self.origins:
                await _text(send, 403, "Refused: a change to the viewer must come from the viewer's own page (Origin).")
                return
            body = await _read(receive)
            if body is None:
                await _text(send, 413, f"Refused: a form larger than {MAX_FORM_BYTES} bytes.")
                return
            if not hmac.compare_digest(_token(scope, body).encode(), self.csrf_token.encode()):
                await _text(
                    send, 403, "Refused: missing or wrong X-Tracemill-Token (reload the page to get the current one)."
                )
                return
            receive = _replay(body, receive)
        if self.login_token and not scope["path"].startswith(OPEN_PATHS) and not self._logged_in(scope):
            if scope["method"] in SAFE_METHODS:
                await send({"type": "http.response.start", "status": 303, "headers": [(b"location", b"/ui/login")]})
                await send({"type": "http.response.body", "body": b""})
            else:
                await _text(send, 403, "Refused: log in to the viewer first (/ui/login).")
            return
        await self.app(scope, receive, send)

    def _logged_in(self, scope: Scope) -> bool:
        for part in (header(scope["headers"], b"cookie") or b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and hmac.compare_digest(value.encode(), self.cookie_value.encode()):
                return True
        return False

    def check_login(self, given: str) -> bool:
        return bool(self.login_token) and hmac.compare_digest(given.encode(), self.login_token.encode())


def _token(scope: Scope, body: bytes) -> str:
    given = header(scope["headers"], b"x-tracemill-token")
    if given:
        return given.decode("latin-1")
    kind = (header(scope["headers"], b"content-type") or b"").split(b";")[0].strip()
    if kind == b"application/x-www-form-urlencoded":
        return (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
    return ""


async def _read(receive: Receive) -> bytes | None:
    parts, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def _replay(body: bytes, original: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect, when it comes)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _text(send: Send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
