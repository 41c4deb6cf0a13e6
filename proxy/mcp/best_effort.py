"""Steps that may fail without harm (closing what is already gone, a last error reply to a client
that left): the failure is swallowed, but a debug line says what failed and why."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

log = logging.getLogger("tracemill.mcp")


@contextlib.contextmanager
def best_effort(what: str, *kinds: type[BaseException]) -> Iterator[None]:
    """`with best_effort("closing the session"): ...` swallows `kinds` (default: Exception) and logs them at debug."""
    caught = kinds or (Exception,)
    try:
        yield
    except caught as exc:
        log.debug("%s failed (%s: %s)", what, type(exc).__name__, exc)
