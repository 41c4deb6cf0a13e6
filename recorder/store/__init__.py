"""The store: the only package that touches a database driver.

Writes go through a `RowSink` (`sink.py`), fed by the writer task (`writer.py`); reads go through
`TraceReader` (`reader.py`). A store is named by its location, a SQLite file path or a PostgreSQL
URL (`location.py`); these functions pick the backend for it, so a new backend is one module (or
folder) here plus one branch in each.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from recorder.store.location import StoreUnavailable, is_postgres, masked

if TYPE_CHECKING:
    from recorder.ingest import Row
    from recorder.store.dbapi import Connection
    from recorder.store.reader import TraceReader
    from recorder.store.sink import RowSink

__all__ = [
    "StoreUnavailable",
    "check",
    "connect_existing",
    "is_postgres",
    "masked",
    "open_reader",
    "open_sink",
    "write_rows",
]


def check(location: str | os.PathLike[str]) -> None:
    """Fail early, in one line, when the backend cannot even be loaded (the PostgreSQL extra missing)."""
    if is_postgres(location):
        from recorder.store.postgres import require_driver

        require_driver()


def open_sink(location: str | os.PathLike[str]) -> RowSink:
    """A sink that writes to the store at `location`, created and migrated as needed."""
    check(location)
    if is_postgres(location):
        from recorder.store.postgres.sink import PostgresSink

        return PostgresSink(str(location))
    from recorder.store.sqlite import SQLiteSink

    return SQLiteSink(location)


def connect_existing(location: str | os.PathLike[str]) -> Connection:
    """A read connection to an existing store, its schema brought up to date (see `TraceReader.open`)."""
    check(location)
    if is_postgres(location):
        from recorder.store.postgres.schema import open_existing as open_postgres

        return open_postgres(str(location))
    from recorder.store.sqlite import open_existing

    return open_existing(location)


def open_reader(location: str | os.PathLike[str]) -> TraceReader:
    """The read API over an existing store; raises FileNotFoundError, SchemaError or StoreUnavailable."""
    from recorder.store.reader import TraceReader

    return TraceReader.open(location)


def write_rows(location: str | os.PathLike[str], rows: list[Row]) -> int:
    """Insert rows in one transaction from outside the writer (imports); returns how many were new."""
    sink = open_sink(location)
    try:
        return sink.write(rows)
    finally:
        sink.close()
