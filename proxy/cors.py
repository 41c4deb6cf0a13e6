"""CORS for the origins the guard allowed: our own headers, never an upstream's passed through blindly.

Only a request with an Origin header (one a browser sent) pays for any of this; other clients get
the upstream's bytes and headers untouched.
"""

from __future__ import annotations

from proxy.asgi import RawHeaders, Scope, Send, header

_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
# What a browser lets a page read without being told (CORS-safelisted response headers).
_SAFELISTED = frozenset(
    {b"cache-control", b"content-language", b"content-length", b"content-type", b"expires", b"last-modified", b"pragma"}
)


def is_preflight(scope: Scope) -> bool:
    return scope["method"] == "OPTIONS" and header(scope["headers"], b"access-control-request-method") is not None


async def answer_preflight(scope: Scope, send: Send, origin: bytes) -> None:
    headers: RawHeaders = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", _METHODS),
        (b"access-control-max-age", b"600"),
        (b"vary", b"origin, access-control-request-headers"),
        (b"content-length", b"0"),
    ]
    asked = header(scope["headers"], b"access-control-request-headers")
    if asked:
        headers.append((b"access-control-allow-headers", asked))
    if header(scope["headers"], b"access-control-request-private-network") == b"true":
        headers.append((b"access-control-allow-private-network", b"true"))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def with_cors(send: Send, origin: bytes) -> Send:
    """A send that swaps any Access-Control-* headers of the answer for ours, for this origin."""

    async def cors_send(message: dict) -> None:  # type: ignore[type-arg]
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", ()) if not k.lower().startswith(b"access-control-")]
            exposed = sorted({k.lower() for k, _ in kept} - _SAFELISTED)
            kept += [(b"access-control-allow-origin", origin), (b"vary", b"origin")]
            if exposed:
                kept.append((b"access-control-expose-headers", b", ".join(exposed)))
            message = {**message, "headers": kept}
        await send(message)

    return cors_send
