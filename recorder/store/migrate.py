"""Applying schema migrations: each named step runs once per file, in order, inside a transaction.

The steps themselves are the plain list in `migrations.py`; their names already applied are kept
in `_migrations`. A file with steps this code does not know comes from a newer tracemill.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from recorder.store.transaction import transaction

Migration = Callable[[sqlite3.Connection], None]


class SchemaError(RuntimeError):
    """The file was written by a newer tracemill: its schema has migrations this one does not know."""


def run_sql(db: sqlite3.Connection, script: str) -> None:
    """Statement by statement: executescript() would commit the migration's transaction."""
    script = "\n".join(line.split("--", 1)[0] for line in script.splitlines())  # comments may hold ';'
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def apply_all(db: sqlite3.Connection, steps: list[Migration]) -> list[str]:
    """Run the steps this file has not seen yet; return their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    ran = []
    for fn in steps:
        if fn.__name__ in done:
            continue
        with transaction(db):
            # Another process may have raced us to it between the read and the lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, time.time()))
        ran.append(fn.__name__)
    return ran


def pending_of(db: sqlite3.Connection, steps: list[Migration]) -> list[str]:
    """The steps this file still needs (all of them for a fresh file); SchemaError when it is newer."""
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")} if has_table else set()
    known = [fn.__name__ for fn in steps]
    if unknown := sorted(done - set(known)):
        raise SchemaError(
            f"this store was written by a newer tracemill (schema steps unknown here: {', '.join(unknown)}); "
            "upgrade tracemill to read it"
        )
    return [name for name in known if name not in done]
