"""A PostgreSQL connection that answers like a `sqlite3` one, so the read SQL is written once.

Statements use `?` placeholders (turned into psycopg's `%s`); rows are read by name or by index, and
`dict(row)` works, as with `sqlite3.Row`; `sum()` comes back as an int, not a Decimal. What the two
backends cannot share (transactions, the chaining locks, server-side cursors) is a method here with a
twin in `recorder/store/sqlite.py`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
from psycopg.adapt import Loader

from recorder.store.location import StoreUnavailable, masked, scrub
from recorder.store.postgres import locks

CONNECT_TIMEOUT_S = 5


class Row(tuple[Any, ...]):
    """A result row like `sqlite3.Row`: `row["name"]`, `row[0]`, `row.keys()`, `dict(row)`."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]] = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@functools.lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_names": names, "_index": {n: i for i, n in enumerate(names)}})


def _rows(cursor: Any) -> Any:
    """psycopg row factory: one Row class per column list."""
    names = tuple(c.name for c in cursor.description or ())
    return _row_class(names)


class _Number(Loader):
    """numeric (what sum() of bigints gives) as int when whole, like SQLite, else float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if any(c in text for c in ".eEN") else int(text)


@functools.lru_cache(maxsize=1024)
def to_pg(sql: str) -> str:
    """`?` placeholders become `%s` (outside quotes), and a literal `%` becomes `%%`."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if ch == "%":
            out.append("%%")
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append(ch)
    return "".join(out)


def open_raw(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A plain psycopg connection with tracemill's adapters; errors never show the password."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_rows)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot connect to {masked(url)}: {scrub(_first_line(exc), url)}") from None
    configure(conn)
    zone = local_zone()
    if zone:
        try:
            conn.execute("SELECT set_config('TimeZone', %s, false)", (zone,))
        except psycopg.Error:
            pass  # a zone the server does not know: it keeps its own
    return conn


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _Number)
    conn.row_factory = _rows


def local_zone() -> str | None:
    """This machine's IANA time zone (TZ, else /etc/localtime), for `date(..., 'localtime')` as SQLite reads it."""
    zone = os.environ.get("TZ", "").lstrip(":")
    if not zone and os.path.islink("/etc/localtime"):
        zone = os.readlink("/etc/localtime").partition("zoneinfo/")[2]
    return zone or None


class PgConnection:
    """The reader's connection (autocommit, explicit transactions), shaped like `sqlite3.Connection`."""

    backend = "postgres"

    def __init__(self, conn: psycopg.Connection[Any], location: str) -> None:
        self.raw = conn
        self.location = masked(location)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(to_pg(sql), tuple(params) if not isinstance(params, dict) else params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cur = self.raw.cursor()
        cur.executemany(to_pg(sql), [tuple(p) for p in seq])
        return cur

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 500) -> Iterator[Any]:
        """Rows through a server-side cursor, `size` at a time: memory stays flat on any store size."""
        with self.raw.cursor(name=f"tm_stream_{id(self):x}", withhold=True) as cur:
            cur.itersize = size
            cur.execute(to_pg(sql), tuple(params))
            yield from cur

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """BEGIN … COMMIT, or ROLLBACK on any error (the twin of SQLite's BEGIN IMMEDIATE)."""
        with self.raw.transaction():
            yield self

    def lock_cursor(self, name: str) -> None:
        """Inside a transaction: wait until no other reader is moving this cursor, then hold it."""
        self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (locks.cursor_key(name),))

    def frontier(self, table: str) -> int:
        """The highest id of `table` below which no row can still appear (see locks.py)."""
        with self.raw.transaction():
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (locks.WRITE,))
            row = self.raw.execute(f"SELECT max(id) FROM {table}").fetchone()
        return int(row[0] or 0) if row else 0

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
