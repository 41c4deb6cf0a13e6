"""The write seam: a `RowSink` takes batches of backend-neutral rows and commits each in one go.

SQLite (`recorder/store/sqlite.py`) is the first implementation; another backend is one more
module in this folder with a class of the same shape, chosen in `recorder/store/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from recorder.ingest import Row

__all__ = ["Row", "RowSink"]


class RowSink(Protocol):
    """One backend connection for writing rows.

    The writer calls `write` from one worker thread at a time, so an implementation may block.
    """

    location: str  # where the rows go, fit to print (never with a password)

    def write(self, rows: Sequence[Row]) -> int:
        """Insert every row in one transaction, all or nothing; a uid already stored is skipped.

        Returns how many rows were new. Raises on any failure, so the caller can spill the batch.
        """
        ...

    def close(self) -> None: ...
