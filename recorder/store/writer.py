"""The store: one SQLite file in WAL mode, written by a single async writer task.

Relays call `Store.record(event)`, which never blocks and never raises. The writer drains the
bounded queue in batches (one transaction every few milliseconds or every N events). When the
queue overflows or SQLite fails, rows go to the spill file and a warning is logged; nothing is
dropped silently. `tracemill store recover` loads the spill file back.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from recorder.ingest.event_rows import Row, build
from recorder.ingest.mcp_rows import Pairing
from recorder.ingest.redact import Redactor
from recorder.store import migrations, spill

log = logging.getLogger("tracemill.store")
BUSY_TIMEOUT_MS = 10_000
_STOP = object()


@dataclass
class StoreConfig:
    path: str = "tracemill.db"
    keep_raw: bool = False
    queue_size: int = 10_000
    batch_interval: float = 0.005  # seconds a batch may wait for company
    batch_max: int = 256


@dataclass
class StoreStats:
    written: int = 0
    spilled: int = 0
    failures: int = 0
    last_error: str | None = None


def connect(path: str | Path) -> sqlite3.Connection:
    """A plain connection with tracemill's pragmas; creates and migrates the file as needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    migrations.apply(db)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.row_factory = sqlite3.Row
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: a crash never leaves half a batch."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def write_rows(db_path: str | Path, rows: list[Row]) -> int:
    """Insert rows into the file in one transaction, from outside the writer (CLI commands)."""
    db = connect(db_path)
    try:
        with transaction(db):
            return insert_rows(db, rows)
    finally:
        db.close()


def insert_rows(db: sqlite3.Connection, rows: Iterable[Row]) -> int:
    """Insert rows grouped by table and columns; re-inserting a uid is a no-op."""
    return sum(db.executemany(_insert_sql(t, c), v).rowcount for (t, c), v in _grouped(list(rows)).items())


class Store:
    def __init__(self, config: StoreConfig | None = None, redactor: Redactor | None = None) -> None:
        self.config = config or StoreConfig()
        self.redactor = redactor or Redactor()
        self.stats = StoreStats()
        self.spill_file = spill.spill_path(self.config.path)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(self.config.queue_size)
        self._db: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_warning = 0.0
        self._overflow: list[Any] = []  # events the full queue refused, spilled by one job at a time
        self._overflow_job: asyncio.Future[None] | None = None
        self._spill_lock = threading.Lock()
        self._pairing = Pairing()

    async def start(self) -> None:
        """Open (create, migrate) the file. If that fails, keep going: records go to the spill file."""
        try:
            connect(self.config.path).close()  # create and migrate once, synchronously
            self._db = await aiosqlite.connect(self.config.path, isolation_level=None)
            await self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await self._db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            self._db = None
            self._warn(f"cannot open the store {self.config.path} ({exc})")
        self._task = asyncio.create_task(self._run(), name="tracemill-writer")

    def record(self, event: Any) -> None:
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
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def healthy(self) -> bool:
        return self.stats.last_error is None

    _busy = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            self._busy = True
            batch, stop = [first], False
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
                    stop = True
                    break
                batch.append(item)
            await self._write(batch)
            self._busy = False
            if stop:
                return

    async def _write(self, batch: list[Any]) -> None:
        rows = await asyncio.to_thread(self._build, batch)
        try:
            if self._db is None:
                raise sqlite3.OperationalError("the store is not open")
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                for (table, cols), values in _grouped(rows).items():
                    await self._db.executemany(_insert_sql(table, cols), values)
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
        except Exception as exc:
            self.stats.failures += 1
            self._warn(f"SQLite write failed ({exc})")
            await asyncio.to_thread(self._spill_rows, rows)
            return
        if self.stats.last_error is not None:
            log.warning("recording recovered: writing to %s again", self.config.path)
            self.stats.last_error = None
        self.stats.written += len(rows)
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


def _grouped(rows: list[Row]) -> dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]]:
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(list)
    for table, row in rows:
        groups[(table, tuple(row))].append(tuple(row.values()))
    return groups


def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def _log_exchange(row: dict[str, Any]) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
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


def recover(db_path: str | Path) -> tuple[int, int]:
    """Load the spill file into the database; returns (rows read, rows inserted). Idempotent."""
    path = spill.spill_path(db_path)
    if not path.exists():
        return 0, 0
    rows = list(spill.read(path))
    inserted = write_rows(db_path, rows)
    path.rename(path.with_name(path.name + f".recovered-{int(time.time())}"))
    return len(rows), inserted
