"""The SQLite backend: one file in WAL mode, a busy timeout for several writers, and the SQL
that only SQLite speaks (`INSERT OR IGNORE`, `BEGIN IMMEDIATE`).

This module and its siblings in `recorder/store/` are the only code that touches a database
driver; everything else writes through a `RowSink` and reads through `TraceReader`.
"""

from __future__ import annotations

import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from recorder.ingest import Row
from recorder.store import migrations
from recorder.store.transaction import transaction

__all__ = ["SQLiteSink", "connect", "insert_rows", "open_existing", "transaction"]

BUSY_TIMEOUT_MS = 10_000  # several processes may write one file; a writer waits this long for the lock


def connect(
    path: str | os.PathLike[str], *, migrate: bool = True, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A connection with tracemill's pragmas; with `migrate`, creates the file and brings its schema up to date."""
    create_private(path)
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=check_same_thread
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if migrate:
        migrations.apply(db)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.row_factory = sqlite3.Row
    return db


def create_private(path: str | os.PathLike[str]) -> None:
    """Create the store file 0600 (and a missing folder 0700), whatever the umask: it holds every
    prompt. SQLite gives the -wal and -shm files the database file's mode. An existing file keeps its own."""
    path = Path(path)
    if path.exists() or str(path) == ":memory:":
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is an empty database
    except FileExistsError:
        pass  # another process created it first


def open_existing(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection to a store that must already exist, for reading and curating.

    The schema is checked, not blindly migrated: a file from an older tracemill is upgraded once
    (the only time a reader writes schema), one from a newer tracemill is refused with a clear error.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no tracemill database at {path} (record something first, or pass --db)")
    db = connect(path, migrate=False)
    try:
        if migrations.pending(db):
            migrations.apply(db)
    except BaseException:
        db.close()
        raise
    return db


def insert_rows(db: sqlite3.Connection, rows: Iterable[Row]) -> int:
    """Insert rows grouped by table and columns; re-inserting a uid is a no-op. Returns rows added."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(list)
    for table, row in rows:
        groups[(table, tuple(row))].append(tuple(row.values()))
    added = 0
    for (table, cols), values in groups.items():
        sql = f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        added += db.executemany(sql, values).rowcount
    return added


class SQLiteSink:
    """The `RowSink` for one SQLite file: created and migrated on open, one transaction per batch."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.location = str(path)
        # The writer hands batches to a worker thread, one at a time: the connection is never shared.
        self._db = connect(path, check_same_thread=False)

    def write(self, rows: Sequence[Row]) -> int:
        with transaction(self._db):
            return insert_rows(self._db, rows)

    def close(self) -> None:
        self._db.close()
