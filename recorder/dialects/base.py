"""The one interface every LLM API dialect implements.

A dialect knows its paths and its wire format. It reassembles a stream into the answer the
upstream would have sent whole, reads usage, errors and completion from an answer, and
translates a request plus its answer into the canonical form the rest of tracemill uses:
OpenAI chat `messages` + `tools` (assistant turns with `content`, `reasoning_content`,
`tool_calls`; tool messages with `tool_call_id`). Raw requests and answers are stored as sent;
only derived rows use the canonical form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from recorder.sse import SSEEvent

COMPLETE, TRUNCATED, INCOMPLETE, ERROR = "complete", "truncated", "incomplete", "error"


@dataclass
class Reassembled:
    """A stream added up: the whole answer, as the upstream would have sent it without `stream`."""

    answer: dict[str, Any]
    error: str | None = None
    done: bool = False  # the stream's terminal event was seen
    reasoning_field: str | None = None  # which field carried reasoning, where the dialect has a choice
    extra: dict[str, Any] = field(default_factory=dict)  # dialect-specific (e.g. streamed item ids)


@dataclass
class Canonical:
    """A request plus its answer in OpenAI chat form."""

    messages: list[dict[str, Any]]  # the request's conversation
    tools: list[dict[str, Any]] | None
    answer: dict[str, Any] | None  # the assistant message the upstream produced, if any
    model: str | None = None


class Dialect(Protocol):
    name: str  # stored in exchanges.dialect

    def matches(self, method: str, path: str) -> bool: ...

    def reassemble(self, events: Iterable[SSEEvent]) -> Reassembled: ...

    def usage(self, answer: dict[str, Any]) -> tuple[int | None, int | None]: ...

    def completion(self, answer: dict[str, Any]) -> tuple[str, str | None]: ...

    def canonical(self, request: dict[str, Any], answer: dict[str, Any] | None) -> Canonical: ...
