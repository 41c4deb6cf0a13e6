"""The one transaction helper: every batch, migration, chaining step and link is all or nothing.

SQLite: BEGIN IMMEDIATE (which also makes readers that write take turns); PostgreSQL: BEGIN, on
the connection shaped like sqlite3's (recorder/store/postgres/connection.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def transaction(db: Any) -> Iterator[Any]:
    """BEGIN … COMMIT, or ROLLBACK on any error: a crash never leaves half a batch."""
    if getattr(db, "backend", "sqlite") == "postgres":
        with db.transaction():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
