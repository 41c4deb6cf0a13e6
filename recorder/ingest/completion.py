"""An exchange's completion state, decided in the writer from the relay's cheap facts and the answer.

complete: the answer finished (a stream's terminal event was relayed, however the connection
ended afterwards). truncated: the model hit its length limit, or the upstream said "incomplete".
incomplete: the answer never finished (client abort, upstream death, a stream cut short), with why.
error: an HTTP error, or an error body or event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recorder.dialects.base import COMPLETE, ERROR, INCOMPLETE, TRUNCATED, Dialect
from recorder.events import LLMExchange


@dataclass
class Completion:
    state: str
    why: str | None = None  # for every state but a plain complete: what happened
    error: str | None = None  # the text for the `error` column, when there is one


def _cut_short(ev: LLMExchange, received: int) -> str:
    """Why an answer stopped before its end, from the relay's facts."""
    if ev.client_gone:
        return f"client disconnected after {received} bytes, before the answer was complete"
    if ev.error:
        return ev.error
    return "the upstream ended the response before its terminal event"


def decide(
    ev: LLMExchange,
    dialect: Dialect | None,
    answer: dict[str, Any] | None,
    *,
    streamed: bool,
    done: bool,
    stream_error: str | None,
    body_error: str | None,
    received: int,
) -> Completion:
    """The state of one exchange. `done`: a stream's terminal event reached the client."""
    status = ev.status or 0
    relay_error = ev.error
    if status >= 400 or (relay_error and not ev.status):
        text = relay_error or body_error or stream_error or f"HTTP {status}"
        return Completion(ERROR, text, text)
    if stream_error:
        text = f"{relay_error}; {stream_error}" if relay_error else f"stream error: {stream_error}"
        return Completion(ERROR, text, text)
    finished = done if streamed else not ev.incomplete
    if not finished:
        why = _cut_short(ev, received)
        return Completion(INCOMPLETE, why, why)
    note = None
    if relay_error:  # the connection failed after the terminal event: the answer stands
        note = f"the connection failed after the answer was complete ({relay_error})"
    if dialect is None or not isinstance(answer, dict):
        return Completion(COMPLETE, note)
    state, reason = dialect.completion(answer)
    if state == ERROR:
        return Completion(ERROR, reason, reason)
    return Completion(state, reason or note) if state in (TRUNCATED, INCOMPLETE) else Completion(COMPLETE, note)
