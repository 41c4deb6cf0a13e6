"""The recorder as a relay sees it: hand over an event and never wait for the disk.

`Store` (recorder/store/writer.py) is the real one; `NullRecorder` stands in when recording is
off, so relays never test for "no store".
"""

from __future__ import annotations

from typing import Any, Protocol

from recorder.events import LLMExchange, MCPMessage, MCPStreamPart

Event = LLMExchange | MCPMessage | MCPStreamPart


class Recorder(Protocol):
    def record(self, event: Event) -> None:
        """Queue an event for writing. Never blocks and never raises."""
        ...

    async def start(self) -> None: ...

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (or spilled)."""
        ...

    async def close(self) -> None:
        """Write (or spill) everything queued, then stop."""
        ...

    def health(self) -> dict[str, Any] | None:
        """Where records go and whether writing works, for /healthz; None when nothing is recorded."""
        ...


class NullRecorder:
    """Records nothing: for `serve` without a store and for tests of the relays alone."""

    def record(self, event: Event) -> None:
        pass

    async def start(self) -> None:
        pass

    async def flush(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def health(self) -> dict[str, Any] | None:
        return None
