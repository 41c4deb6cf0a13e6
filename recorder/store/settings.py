"""What the store reads from the proxy's config, as protocols: recorder never imports proxy."""

from __future__ import annotations

from typing import Protocol


class _StoreSection(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def keep_raw(self) -> bool: ...

    @property
    def max_body_bytes(self) -> int: ...

    @property
    def max_queue_bytes(self) -> int: ...

    @property
    def drain_seconds(self) -> float: ...


class _RedactSection(Protocol):
    @property
    def patterns(self) -> list[str]: ...


class AppConfig(Protocol):
    """What `Store.from_config` reads from the proxy's config (recorder never imports proxy)."""

    @property
    def store(self) -> _StoreSection: ...

    @property
    def redact(self) -> _RedactSection: ...

    def secrets(self) -> list[str]: ...
