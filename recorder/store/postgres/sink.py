"""The PostgreSQL `RowSink`: each batch in one transaction, pipelined inserts, idempotent on uids.

The writer thread owns it. A pool of one connection (psycopg_pool) reconnects in the background
after the server went away, so writing resumes by itself within a second or two of its return. A
batch waits a few seconds for a connection (a restart passes unnoticed); once one has failed, the
next ones fail fast and the writer spills them. Every batch holds the shared write lock (see
`locks.py`) until it commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from recorder.ingest import Row
from recorder.store.location import StoreUnavailable, masked, scrub
from recorder.store.postgres import locks
from recorder.store.postgres.connection import CONNECT_TIMEOUT_S, configure, open_raw
from recorder.store.postgres.schema import migrate

log = logging.getLogger("tracemill.store")
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # its retries are ours to report, once
STATEMENT_TIMEOUT_MS = 30_000  # a server slower than this counts as down: the batch is spilled
WAIT_WHILE_DOWN_S = 0.5  # after a failed batch: how long the next one waits for a connection
RECONNECT_ROUND_S = 2.0  # the pool's reconnect attempts give up after this; the next batch starts a new round


class PostgresWriteError(StoreUnavailable):
    """A batch did not reach the server; the message never holds the password."""


class PostgresSink:
    """The `RowSink` for one PostgreSQL database: migrated on first contact, one transaction per batch."""

    def __init__(self, url: str) -> None:
        self.location = masked(url)
        self._url = url
        self._migrated = False
        self._down = False
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=1,
            open=False,
            kwargs={
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                "application_name": "tracemill writer",
            },
            configure=configure,
            check=ConnectionPool.check_connection,
            reconnect_timeout=RECONNECT_ROUND_S,  # short rounds: no exponential backoff into minutes
            num_workers=1,
            name="tracemill-writer",
        )
        try:  # migrate now, if the server is there: one plain connection, so a refusal answers at once
            with open_raw(url) as conn:
                migrate(conn, url)
            self._migrated = True
        except (StoreUnavailable, psycopg.Error) as exc:
            self._down = True
            log.warning("%s; records are spilled until it is back", scrub(str(exc).strip(), url))
        self._pool.open(wait=False)

    def write(self, rows: Sequence[Row]) -> int:
        """Insert every row in one transaction; a uid (or tool hash) already stored is skipped."""
        groups = _grouped(rows)
        try:
            added = self._session(WAIT_WHILE_DOWN_S if self._down else CONNECT_TIMEOUT_S, lambda c: _insert(c, groups))
        except PostgresWriteError:
            self._down = True
            raise
        self._down = False
        return added

    def close(self) -> None:
        self._pool.close()

    def _session(self, wait: float, work: Any) -> int:
        try:
            with self._pool.connection(timeout=wait) as conn:
                if not self._migrated:
                    migrate(conn, self._url)
                    self._migrated = True
                return int(work(conn) or 0)
        except PoolTimeout:
            raise PostgresWriteError(f"cannot reach PostgreSQL at {self.location}") from None
        except psycopg.Error as exc:
            raise PostgresWriteError(f"PostgreSQL at {self.location}: {scrub(str(exc).strip(), self._url)}") from None


def _insert(conn: psycopg.Connection[Any], groups: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]]) -> int:
    added = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (locks.WRITE,))
        for (table, cols), values in groups.items():
            marks = ", ".join(["%s"] * len(cols))
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT DO NOTHING", values)
            added += max(cur.rowcount, 0)
    return added


def _grouped(rows: Sequence[Row]) -> dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]]:
    """Rows by table and column list, in order; NUL characters (which text cannot hold) become U+FFFD."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(list)
    for table, row in rows:
        values = tuple(v.replace("\x00", "\ufffd") if type(v) is str and "\x00" in v else v for v in row.values())
        groups[(table, tuple(row))].append(values)
    return groups
