"""Token capture, writer side: the ids of an exchange to `exchange_tokens` rows, and the exchange
row built from what the client saw.

The relay hands over the upstream's raw bytes, ids included, and strips them only for the client.
Here the same stripping gives the exchange row the client's view, and the ids go to their own
table: one row per choice, with whether the stream's ids were consistent.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Callable
from typing import Any

from recorder.dialects import token_collect, token_ids
from recorder.events import LLMExchange, TokenCapture

Row = tuple[str, dict[str, Any]]
CAPTURED, INCONSISTENT, MISSING = "captured", "inconsistent", "missing"


def pack_ids(ids: list[int] | None) -> bytes | None:
    """Token ids as little-endian uint32: 4 bytes a token instead of a JSON list."""
    return None if ids is None else _bytes(array("I", ids))


def unpack_ids(blob: bytes | None) -> list[int] | None:
    return None if blob is None else _array("I", blob).tolist()


def pack_floats(values: list[float] | None) -> bytes | None:
    """Logprobs as little-endian float32."""
    return _bytes(array("f", values)) if values else None


def unpack_floats(blob: bytes | None) -> list[float] | None:
    return None if blob is None else [round(v, 6) for v in _array("f", blob).tolist()]


def _bytes(values: array[Any]) -> bytes:
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def _array(typecode: str, blob: bytes) -> array[Any]:
    values = array(typecode)
    values.frombytes(blob)
    if sys.byteorder != "little":
        values.byteswap()
    return values


def token_rows(ev: LLMExchange, capture: TokenCapture, body: bytes, streamed: bool) -> list[Row]:
    """One row per choice with the ids it carried; one `missing` row when the upstream sent none."""
    base = {"exchange_uid": ev.uid, "injected": ",".join(capture.injected)}
    if capture.refused:
        return [("exchange_tokens", {**base, "choice": 0, "status": MISSING, "detail": capture.refused})]
    if ev.status is None or ev.status >= 400:
        return []  # an error answer has no tokens to miss
    if streamed:
        bodies: Any = token_collect.parse_stream(body)
    else:
        try:
            bodies = [json.loads(body)]
        except (ValueError, RecursionError):
            return [("exchange_tokens", {**base, "choice": 0, "status": MISSING, "detail": "the answer is not JSON"})]
    choices, usage = token_collect.collect(capture.kind, bodies, streamed)
    token_collect.check(choices, usage)
    if not any(c.saw_ids for c in choices.values()):
        why = "the upstream sent no token ids (it does not know return_token_ids)"
        return [("exchange_tokens", {**base, "choice": 0, "status": MISSING, "detail": why})]
    rows = []
    for choice in sorted(choices.values(), key=lambda c: c.index):
        problems = choice.problems if choice.saw_ids else ["no token_ids for this choice"]
        if ev.incomplete:
            problems = [*problems, "the answer was cut short"]
        rows.append(
            (
                "exchange_tokens",
                {
                    **base,
                    "choice": choice.index,
                    "status": INCONSISTENT if problems else CAPTURED,
                    "prompt_ids": pack_ids(choice.prompt_ids),
                    "completion_ids": pack_ids(choice.completion_ids),
                    "logprobs": pack_floats(choice.logprobs),
                    "prompt_len": len(choice.prompt_ids) if choice.prompt_ids is not None else None,
                    "completion_len": len(choice.completion_ids),
                    "detail": "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
                    if problems
                    else None,
                },
            )
        )
    return rows


def captured_rows(
    ev: LLMExchange, build_exchange: Callable[[LLMExchange], Row], decode: Callable[[bytes, LLMExchange], bytes]
) -> list[Row]:
    """The exchange row (from the client's view of the answer) plus its token rows."""
    capture = ev.tokens
    assert capture is not None
    raw = decode(b"".join(ev.response_chunks), ev)
    streamed = b"text/event-stream" in _content_type(ev)
    tokens = token_rows(ev, capture, raw, streamed)
    if capture.injected and not capture.refused and ev.status is not None and ev.status < 400 and not _encoded(ev):
        if streamed:
            ev.response_chunks = [token_ids.strip_stream(raw, capture.kind, capture.injected)]
        else:
            ev.response_chunks = [token_ids.strip_body(raw, capture.kind, capture.injected)]
    return [build_exchange(ev), *tokens]


def _content_type(ev: LLMExchange) -> bytes:
    return next((v for k, v in ev.response_headers if k.lower() == b"content-type"), b"")


def _encoded(ev: LLMExchange) -> bool:
    """A compressed answer reached the client untouched (the relay cannot rewrite it)."""
    encoding = next((v for k, v in ev.response_headers if k.lower() == b"content-encoding"), b"identity")
    return encoding.strip().lower() not in (b"", b"identity")
