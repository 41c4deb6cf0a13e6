"""The one interface every LLM API dialect implements.

A dialect knows its paths and its wire format. It reassembles a stream into the answer the
upstream would have sent whole, reads usage, errors and completion from an answer, and
translates a request plus its answer into the canonical form the rest of tracemill uses:
OpenAI chat `messages` + `tools`. Raw requests and answers are stored as sent; only derived
rows use the canonical form. Everything here runs in the recorder's writer, never on the hot path.

The interface, in full:

- `name`: stored in `exchanges.dialect` ("chat_completions", "responses", "anthropic_messages").
- `matches(method, path)`: whether an HTTP exchange speaks this dialect.
- `reassemble(events) -> Reassembled`: the SSE events of a stream folded into the answer a
  non-streamed call returns. `done` says the stream's terminal event was seen: an answer whose
  terminal event was relayed is complete however the connection ended afterwards.
- `usage(answer) -> (prompt_tokens, completion_tokens)`: either may be None. Prompt tokens count
  every input token, cached ones included.
- `completion(answer) -> (state, why)`: COMPLETE, TRUNCATED (the model hit its length limit or an
  upstream "incomplete" status), INCOMPLETE (the answer never finished: no finish/stop reason) or
  ERROR (an error body or event); `why` is a short reason, None when complete.
- `canonical(request, answer, lookup=None) -> Canonical`: the request's conversation and the
  assistant message that answered it, in chat form. `answer` is the stored answer (non-streamed
  body or `Reassembled.answer`) or None. `lookup(item_id)` returns the stored answer of an earlier
  exchange whose output holds that item id (Responses `item_reference`); the integrator supplies
  it. Raises DialectError when the request is not this dialect's shape.

The canonical chat form:

- messages `{role: system|user|assistant|tool, content}`; `content` a string, None, or a list of
  chat parts (`{type: text, text}`, `{type: image_url, image_url: {url}}`, ...).
- assistant turns: `content`, `reasoning_content` (never `reasoning`), `tool_calls`
  `[{id, type: "function", function: {name, arguments: JSON string}}]`.
- tool messages: `{role: tool, tool_call_id, content}`.
- tools: chat tools `{type: function, function: {name, description, parameters, ...}}`; tools
  with no chat equivalent (server tools) are kept as sent.
- Two extra message keys carry what chat form cannot say (export decides whether to keep them):
  `UNMAPPED` ("unmapped"): a list of the dialect's items/blocks carried as sent, on the message
  they belong to; `REDACTED` ("redacted_thinking"): True on an assistant turn whose reasoning was
  (partly) encrypted by the provider, so its `reasoning_content` is not the whole reasoning.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from recorder.sse import SSEEvent

COMPLETE, TRUNCATED, INCOMPLETE, ERROR = "complete", "truncated", "incomplete", "error"
STATES = (COMPLETE, TRUNCATED, INCOMPLETE, ERROR)
UNMAPPED = "unmapped"
REDACTED = "redacted_thinking"

Lookup = Callable[[str], dict[str, Any] | None]


class DialectError(ValueError):
    """A request or answer that is not in the dialect's shape; the message says what is wrong."""


@dataclass
class Reassembled:
    """A stream added up: the whole answer, as the upstream would have sent it without `stream`."""

    answer: dict[str, Any]
    error: str | None = None  # error events in the stream, joined
    done: bool = False  # the stream's terminal event was seen
    reasoning_field: str | None = None  # which field carried reasoning, where the dialect has a choice


@dataclass
class Canonical:
    """A request plus its answer in OpenAI chat form."""

    messages: list[dict[str, Any]]  # the request's conversation
    tools: list[dict[str, Any]] | None
    answer: dict[str, Any] | None  # the assistant message the upstream produced, if any
    model: str | None = None
    response_id: str | None = None  # the id a later request names to continue this one (Responses)
    # This request continues that response: `messages` hold the system message from this request's
    # instructions (if any), then only the new items; the history lives in the earlier exchanges.
    previous_response_id: str | None = None
    alt_call_ids: dict[str, str] = field(default_factory=dict)  # answer tool-call id -> other id a client may send back

    def answer_variants(self) -> list[dict[str, Any]]:
        """The answer as each kind of client may send it back: canonical ids, then alternate ids."""
        if self.answer is None:
            return []
        variants = [self.answer]
        calls = self.answer.get("tool_calls") or []
        if self.alt_call_ids and any(c.get("id") in self.alt_call_ids for c in calls):
            other = copy.deepcopy(self.answer)
            for call in other["tool_calls"]:
                call["id"] = self.alt_call_ids.get(call.get("id"), call.get("id"))
            variants.append(other)
        return variants


class Dialect(Protocol):
    name: str  # stored in exchanges.dialect

    def matches(self, method: str, path: str) -> bool: ...

    def reassemble(self, events: Iterable[SSEEvent]) -> Reassembled: ...

    def usage(self, answer: dict[str, Any]) -> tuple[int | None, int | None]: ...

    def completion(self, answer: dict[str, Any]) -> tuple[str, str | None]: ...

    def canonical(
        self, request: dict[str, Any], answer: dict[str, Any] | None, lookup: Lookup | None = None
    ) -> Canonical: ...


def path_is(method: str, path: str, suffix: str) -> bool:
    """A POST to a path ending in `suffix` (any prefix: /v1, /openai/v1, a trailing slash)."""
    return method.upper() == "POST" and path.split("?", 1)[0].rstrip("/").endswith(suffix)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one: wire data is read defensively."""
    return value if isinstance(value, dict) else {}


def string(value: Any) -> str:
    return value if isinstance(value, str) else ""
