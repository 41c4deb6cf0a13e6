"""The store: the only package that touches a database driver.

Writes go through a `RowSink` (`sink.py`), fed by the writer task (`writer.py`); reads go through
`TraceReader` (`reader.py`). A store is named by its location; these two functions pick the
backend for it, so a new backend is one module here plus one branch in each.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recorder.ingest import Row
    from recorder.store.reader import TraceReader
    from recorder.store.sink import RowSink


def open_sink(location: str | os.PathLike[str]) -> RowSink:
    """A sink that writes to the store at `location`, created and migrated as needed."""
    from recorder.store.sqlite import SQLiteSink

    return SQLiteSink(location)


def open_reader(location: str | os.PathLike[str]) -> TraceReader:
    """The read API over an existing store; raises FileNotFoundError or SchemaError with a clear message."""
    from recorder.store.reader import TraceReader

    return TraceReader.open(location)


def write_rows(location: str | os.PathLike[str], rows: list[Row]) -> int:
    """Insert rows in one transaction from outside the writer (imports); returns how many were new."""
    sink = open_sink(location)
    try:
        return sink.write(rows)
    finally:
        sink.close()
