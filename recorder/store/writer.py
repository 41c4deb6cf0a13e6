"""The writer: relays hand `Store.record(event)` their events; one task turns them into rows and
hands them, in batches, to a `RowSink` (one transaction every few milliseconds or every N events).

`record` never blocks and never raises. When the queue overflows or the sink fails, rows go to the
spill file and a warning is logged; nothing is dropped silently. `tracemill store recover` loads
the spill file back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from recorder.ingest import Row
from recorder.ingest.event_rows import build
from recorder.ingest.mcp_rows import Pairing
from recorder.ingest.redact import Redactor
from recorder.recording import Event
from recorder.store import open_sink, spill
from recorder.store.sink import RowSink

log = logging.getLogger("tracemill.store")
_STOP = object()


@dataclass
class WriterConfig:
    """Where the writer writes and how it batches (the user-facing [store] table is proxy's StoreConfig)."""

    path: str = "tracemill.db"
    keep_raw: bool = False
    queue_size: int = 10_000
    batch_interval: float = 0.005  # seconds a batch may wait for company
    batch_max: int = 256


@dataclass
class WriterStats:
    written: int = 0
    spilled: int = 0
    failures: int = 0
    last_error: str | None = None


class _StoreSection(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def keep_raw(self) -> bool: ...


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


class Store:
    """The `Recorder` that writes: a bounded queue, one writer task, a sink, and the spill file."""

    def __init__(self, config: WriterConfig | None = None, redactor: Redactor | None = None) -> None:
        self.config = config or WriterConfig()
        self.redactor = redactor or Redactor()
        self.stats = WriterStats()
        self.spill_file = spill.spill_path(self.config.path)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(self.config.queue_size)
        self._sink: RowSink | None = None
        # One thread owns the sink: a batch is built and written there, off the event loop.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tracemill-writer")
        self._task: asyncio.Task[None] | None = None
        self._last_warning = 0.0
        self._overflow: list[Any] = []  # events the full queue refused, spilled by one job at a time
        self._overflow_job: asyncio.Future[None] | None = None
        self._spill_lock = threading.Lock()
        self._pairing = Pairing()
        self._busy = False

    @classmethod
    def from_config(cls, config: AppConfig) -> Store:
        """The one way the proxy builds its store: path, keep_raw, and every configured secret."""
        return cls(
            WriterConfig(path=config.store.path, keep_raw=config.store.keep_raw),
            Redactor(config.secrets(), config.redact.patterns),
        )

    async def start(self) -> None:
        """Open (create, migrate) the store. If that fails, keep going: records go to the spill file."""
        try:
            self._sink = await asyncio.get_running_loop().run_in_executor(self._thread, open_sink, self.config.path)
        except Exception as exc:
            self._sink = None
            self._warn(f"cannot open the store {self.config.path} ({exc})")
        self._task = asyncio.create_task(self._run(), name="tracemill-writer")

    def record(self, event: Event) -> None:
        """Hand an event to the writer. Never blocks the caller and never raises."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._warn("the recording queue is full (the disk is slower than the traffic)", failure=False)
            self._overflow.append(event)
            if self._overflow_job is None or self._overflow_job.done():
                self._overflow_job = asyncio.get_running_loop().run_in_executor(None, self._spill_overflow)

    async def flush(self) -> None:
        """Wait until everything recorded so far has been written (or spilled)."""
        while self._queue.qsize() or self._busy or (self._overflow_job and not self._overflow_job.done()):
            await asyncio.sleep(0.002)

    async def close(self) -> None:
        if self._task is not None:
            await self._queue.put(_STOP)
            await self._task
            self._task = None
        if self._overflow_job is not None:
            await self._overflow_job
        if self._sink is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sink.close)
            self._sink = None
        self._thread.shutdown(wait=False)

    @property
    def healthy(self) -> bool:
        return self.stats.last_error is None

    def health(self) -> dict[str, Any]:
        return {"path": self.config.path, "healthy": self.healthy, "last_error": self.stats.last_error}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            self._busy = True
            batch, stop = await self._gather(first)
            await loop.run_in_executor(self._thread, self._write, batch)
            self._busy = False
            if stop:
                return

    async def _gather(self, first: Any) -> tuple[list[Any], bool]:
        """A batch: whatever else arrives within batch_interval, up to batch_max. True when told to stop."""
        loop = asyncio.get_running_loop()
        batch = [first]
        deadline = loop.time() + self.config.batch_interval
        while len(batch) < self.config.batch_max:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _write(self, batch: list[Any]) -> None:
        """In the writer thread: rows from events, into the sink, or into the spill file."""
        rows = self._build(batch)
        try:
            if self._sink is None:
                raise RuntimeError("the store is not open")
            self._sink.write(rows)
        except Exception as exc:
            self.stats.failures += 1
            self._warn(f"SQLite write failed ({exc})")
            self._spill_rows(rows)
            return
        if self.stats.last_error is not None:
            log.warning("recording recovered: writing to %s again", self.config.path)
            self.stats.last_error = None
        self.stats.written += len(rows)
        if log.isEnabledFor(logging.INFO):
            for table, row in rows:
                if table == "exchanges":
                    _log_exchange(row)

    def _build(self, batch: list[Any]) -> list[Row]:
        rows: list[Row] = []
        for event in batch:
            try:
                rows.extend(build(event, self.redactor, self.config.keep_raw, self._pairing))
            except Exception:
                log.exception("could not turn a %s into rows; it is not recorded", type(event).__name__)
        return rows

    def _spill_overflow(self) -> None:
        while self._overflow:
            events, self._overflow = self._overflow, []
            self._spill_rows(self._build(events))

    def _spill_rows(self, rows: list[Row]) -> None:
        try:
            with self._spill_lock:
                self.stats.spilled += spill.append(self.spill_file, rows)
        except Exception as exc:
            log.error("could not spill %d rows to %s either (%s): they are lost", len(rows), self.spill_file, exc)

    def _warn(self, what: str, failure: bool = True) -> None:
        if failure:
            self.stats.last_error = what
        now = time.monotonic()
        if now - self._last_warning > 5:
            self._last_warning = now
            log.warning(
                "%s; the proxy keeps serving, and records go to %s (load them with `tracemill store recover`)",
                what,
                self.spill_file,
            )


def _log_exchange(row: dict[str, Any]) -> None:
    tokens = row.get("completion_tokens")
    log.info(
        "%s %s %s %s %.0fms%s%s%s",
        row["method"],
        row["path"],
        row["status"] if row["status"] is not None else "-",
        row["model"] or "-",
        row["duration_ms"] or 0,
        " stream" if row["stream"] else "",
        f" {tokens} tokens" if tokens else "",
        f" error: {row['error'][:120]}" if row["error"] else "",
    )
