"""The connection both backends hand to the read side, and the few calls whose SQL differs.

Readers write their SQL once, in the subset SQLite and PostgreSQL share: `?` placeholders,
`INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE`, `RETURNING id` instead of `lastrowid`, rows read
by column name. What cannot be shared is here, with one branch per backend: a write transaction,
the chaining cursor's lock and frontier, and streaming a large result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from recorder.store.transaction import transaction

__all__ = ["Connection", "backend", "frontier", "lock_cursor", "stream", "transaction"]


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    @property
    def rowcount(self) -> int: ...


class Connection(Protocol):
    """A `sqlite3.Connection`, or the PostgreSQL connection shaped like one."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def close(self) -> None: ...


def backend(db: Any) -> str:
    """ "sqlite" or "postgres"."""
    return str(getattr(db, "backend", "sqlite"))


def lock_cursor(db: Any, name: str) -> None:
    """Inside `transaction`: hold the `_cursors` row `name` until commit, so readers that refresh at
    once take turns (SQLite's BEGIN IMMEDIATE already does)."""
    if backend(db) == "postgres":
        db.lock_cursor(name)


def frontier(db: Any, table: str) -> int:
    """The highest id of `table` that incremental readers may consume: no lower id can appear later."""
    if backend(db) == "postgres":
        return int(db.frontier(table))
    return int(db.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0)


def stream(db: Any, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
    """Every row of a large result with flat memory: a server-side cursor on PostgreSQL, SQLite's own
    lazy cursor otherwise."""
    if backend(db) == "postgres":
        yield from db.stream(sql, params)
    else:
        yield from db.execute(sql, params)
