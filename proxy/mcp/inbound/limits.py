"""What bounds the MCP ways in: a per-server cap on upstream sessions (each a child process for
a stdio server), and byte-bounded buffers for messages a client is not reading yet."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

log = logging.getLogger("tracemill.mcp")
T = TypeVar("T")


class CapReached(Exception):
    """No room for another upstream session; the message names the setting that says so."""

    def __init__(self, server: str, limit: int) -> None:
        super().__init__(
            f"tracemill: MCP server '{server}' already has {limit} open sessions, the most that "
            f"mcp.servers.{server}.max_sessions allows; end one (DELETE), wait for an idle one to be "
            f"closed (mcp.servers.{server}.idle_seconds), or raise the limit"
        )
        self.setting = f"mcp.servers.{server}.max_sessions"
        self.limit = limit


class SessionCap:
    """Counts one server's upstream sessions across every way in (HTTP sessions, shared /s/<key>
    channels, legacy SSE streams). Taken before a channel opens, so over the cap nothing starts."""

    def __init__(self, server: str, limit: int) -> None:
        self.server, self.limit = server, limit
        self.used = 0

    def take(self) -> None:
        if self.used >= self.limit:
            raise CapReached(self.server, self.limit)
        self.used += 1

    def give_back(self) -> None:
        self.used = max(0, self.used - 1)


class Backlog(Generic[T]):
    """Items in arrival order, bounded in bytes: past the bound the oldest droppable items go (with
    a debug log). The newest item and the undroppable ones (answers a client waits for) always stay."""

    def __init__(self, limit_bytes: int, what: str) -> None:
        self.limit, self.what = limit_bytes, what
        self.size = 0
        self.dropped = 0
        self._items: deque[tuple[T, int, bool]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return (item for item, _, _ in self._items)

    def append(self, item: T, size: int, droppable: bool = True) -> None:
        self._items.append((item, size, droppable))
        self.size += size
        if self.size > self.limit:
            self._trim()

    def popleft(self) -> T:
        item, size, _ = self._items.popleft()
        self.size -= size
        return item

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def _trim(self) -> None:
        kept: deque[tuple[T, int, bool]] = deque()
        dropped = 0
        while self._items and self.size > self.limit and len(self._items) > 1:
            entry = self._items.popleft()
            if entry[2]:
                self.size -= entry[1]
                dropped += 1
            else:
                kept.append(entry)
        self._items.extendleft(reversed(kept))
        if dropped:
            self.dropped += dropped
            log.debug("%s over %d bytes: dropped its %d oldest messages", self.what, self.limit, dropped)
