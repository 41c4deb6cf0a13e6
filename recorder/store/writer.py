"""The writer: relays hand `Store.record(event)` their events; one task turns them into rows and
hands them, in batches, to a `RowSink` (one transaction every few milliseconds or every N events).

`record` never blocks and never raises. The queue is bounded in bytes as well as in events: past
either bound, events go to the spill file as they are, and when the sink fails, rows go there;
a warning is logged and nothing is dropped silently. At shutdown the writer gets
`drain_seconds`; what it has not written by then is spilled too. `tracemill store recover` loads
the spill file back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from recorder.events import LLMExchange, MCPStreamPart
from recorder.ingest import Row
from recorder.ingest.event_rows import MAX_BODY, build
from recorder.ingest.mcp_rows import Pairing
from recorder.ingest.redact import Redactor
from recorder.recording import Event
from recorder.store import is_postgres, masked, open_sink, spill
from recorder.store.settings import AppConfig
from recorder.store.sink import RowSink
from recorder.store.worker import Worker

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
    max_body_bytes: int = MAX_BODY  # a stored body is cut here (decompressed ones included)
    max_queue_bytes: int = 256 * 1024 * 1024  # queued event bytes past this are spilled, not held
    drain_seconds: float = 5.0  # at close, how long the writer may go on before the rest is spilled


@dataclass
class WriterStats:
    written: int = 0
    spilled: int = 0
    failures: int = 0
    last_error: str | None = None


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
        self._worker = Worker("tracemill-writer")
        self._task: asyncio.Task[None] | None = None
        self._queued_bytes = 0
        self._batch: list[Any] = []  # the events the writer is working on
        self._last_warning = 0.0
        self._overflow: list[Any] = []  # events the full queue refused, spilled by one job at a time
        self._overflow_job: asyncio.Future[None] | None = None
        self._spill_lock = threading.Lock()
        self._pairing = Pairing()
        self._busy = False

    @classmethod
    def from_config(cls, config: AppConfig) -> Store:
        """The one way the proxy builds its store: path, keep_raw, and every configured secret."""
        store = config.store
        return cls(
            WriterConfig(
                path=store.path,
                keep_raw=store.keep_raw,
                max_body_bytes=store.max_body_bytes,
                max_queue_bytes=store.max_queue_bytes,
                drain_seconds=store.drain_seconds,
            ),
            Redactor(config.secrets(), config.redact.patterns),
        )

    async def start(self) -> None:
        """Open (create, migrate) the store. If that fails, keep going: records go to the spill file."""
        try:
            self._sink = await self._worker.run(open_sink, self.config.path)
        except Exception as exc:
            self._sink = None
            self._warn(f"cannot open the store {masked(self.config.path)} ({exc})")
        self._task = asyncio.create_task(self._run(), name="tracemill-writer")

    def record(self, event: Event) -> None:
        """Hand an event to the writer. Never blocks the caller and never raises."""
        size = _size(event)
        if self._queued_bytes + size <= self.config.max_queue_bytes:
            try:
                self._queue.put_nowait((event, size))
                self._queued_bytes += size
                return
            except asyncio.QueueFull:
                pass
        self._warn("the recording queue is full (the disk is slower than the traffic)", failure=False)
        self._overflow.append(event)
        self._spill_overflow_soon()

    def _spill_overflow_soon(self) -> None:
        """One job at a time appends refused events to the spill file, off the event loop."""
        if self._overflow and (self._overflow_job is None or self._overflow_job.done()):
            self._overflow_job = asyncio.get_running_loop().run_in_executor(None, self._spill_overflow)

    async def flush(self) -> None:
        """Wait until everything recorded so far has been written (or spilled)."""
        spilling = self._overflow or (self._overflow_job and not self._overflow_job.done())
        while self._queue.qsize() or self._busy or spilling:
            self._spill_overflow_soon()  # events refused while the last job was finishing
            await asyncio.sleep(0.002)
            spilling = self._overflow or (self._overflow_job and not self._overflow_job.done())

    async def close(self) -> None:
        """Write what is queued, for at most drain_seconds; then spill the rest, as events."""
        drained = True
        if self._task is not None:
            if not self._queue.full():  # (a full queue: the writer works through it, or times out)
                self._queue.put_nowait(_STOP)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.config.drain_seconds)
            except TimeoutError:
                drained = False
                self._task.cancel()
                self._spill_unwritten()
            self._task = None
        if self._overflow_job is not None:
            await self._overflow_job  # file appends only: quick
        self._spill_overflow()  # anything refused after the last job looked
        if self._sink is not None and drained:
            await self._worker.run(self._sink.close)
            self._sink = None
        self._worker.stop()

    @property
    def healthy(self) -> bool:
        return self.stats.last_error is None

    def health(self) -> dict[str, Any]:
        return {"path": masked(self.config.path), "healthy": self.healthy, "last_error": self.stats.last_error}

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            self._busy = True
            batch, stop = await self._gather(first)
            await self._worker.run(self._write, batch)
            self._batch = []
            self._busy = False
            if stop:
                return

    async def _gather(self, first: Any) -> tuple[list[Any], bool]:
        """A batch: whatever else arrives within batch_interval, up to batch_max. True when told to stop."""
        loop = asyncio.get_running_loop()
        batch = self._batch = [self._take(first)]
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
            batch.append(self._take(item))
        return batch, False

    def _take(self, item: tuple[Any, int]) -> Any:
        event, size = item
        self._queued_bytes -= size
        return event

    def _spill_unwritten(self) -> None:
        """Shutdown came first: the batch in hand and everything queued go to the spill file as events
        (the batch may still commit too; recovery skips what is already stored)."""
        events = list(self._batch)
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _STOP:
                events.append(self._take(item))
        log.warning(
            "the writer did not finish within [store] drain_seconds = %s; %d events go to %s "
            "(load them with `tracemill store recover`)",
            self.config.drain_seconds,
            len(events),
            self.spill_file,
        )
        self._spill_events(events)

    def _write(self, batch: list[Any]) -> None:
        """In the writer thread: rows from events, into the sink, or into the spill file."""
        rows = self._build(batch)
        try:
            if self._sink is None:
                raise RuntimeError("the store is not open")
            self._sink.write(rows)
        except Exception as exc:
            self.stats.failures += 1
            self._warn(f"{'PostgreSQL' if is_postgres(self.config.path) else 'SQLite'} write failed ({exc})")
            self._spill_rows(rows)
            return
        if self.stats.last_error is not None:
            log.warning("recording recovered: writing to %s again", masked(self.config.path))
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
                config = self.config
                rows.extend(build(event, self.redactor, config.keep_raw, self._pairing, config.max_body_bytes))
            except Exception:
                log.exception("could not turn a %s into rows; it is not recorded", type(event).__name__)
        return rows

    def _spill_overflow(self) -> None:
        while self._overflow:
            events, self._overflow = self._overflow, []
            self._spill_events(events)

    def _spill_events(self, events: list[Any]) -> None:
        try:
            with self._spill_lock:
                self.stats.spilled += spill.append_events(
                    self.spill_file, events, self.redactor, self.config.keep_raw, self.config.max_body_bytes
                )
        except Exception as exc:
            log.error("could not spill %d events to %s (%s): they are lost", len(events), self.spill_file, exc)

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


def _size(event: Event) -> int:
    """What an event holds in memory, roughly: its bodies."""
    if isinstance(event, LLMExchange):
        return 1024 + len(event.request_body) + sum(map(len, event.response_chunks))
    if isinstance(event, MCPStreamPart):
        return 512 + len(event.chunk)
    return 512 + len(event.body)
