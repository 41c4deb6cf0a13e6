"""Schema migrations: a plain list of small named functions, applied once each, in order.

A newer tracemill opens an older database by running the ones it has not seen yet; the names
already applied are kept in `_migrations`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def run_sql(db: sqlite3.Connection, script: str) -> None:
    """Statement by statement: executescript() would commit the migration's transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@migration
def m001_exchanges(db: sqlite3.Connection) -> None:
    """One row per LLM-side HTTP exchange, with the reassembled answer for chat completions."""
    run_sql(
        db,
        """
        CREATE TABLE exchanges (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,          -- stable id, makes spill recovery idempotent
            started_at REAL NOT NULL,          -- unix seconds
            session TEXT,
            client TEXT,                       -- client address
            method TEXT NOT NULL,
            path TEXT NOT NULL,                -- /v1/... as the client asked
            upstream TEXT,                     -- full upstream URL
            status INTEGER,
            ttfb_ms REAL,
            duration_ms REAL,
            model TEXT,
            stream INTEGER NOT NULL DEFAULT 0,
            request_json TEXT,                 -- request body when it was JSON
            request_raw BLOB,                  -- request body when it was not
            request_headers TEXT,              -- JSON list of [name, value], secrets redacted
            response_json TEXT,                -- reassembled chat.completion, or the JSON body
            response_raw BLOB,                 -- raw bytes: non-JSON bodies, or all when keep_raw
            response_headers TEXT,
            reasoning_field TEXT,              -- 'reasoning_content' or 'reasoning', as the upstream used
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            error TEXT,
            incomplete INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX exchanges_started ON exchanges(started_at);
        CREATE INDEX exchanges_session ON exchanges(session, started_at);
        """
    )


def apply(db: sqlite3.Connection) -> list[str]:
    """Run the migrations this file has not seen yet; return their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    ran = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have raced us to it between the read and the lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, time.time()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(fn.__name__)
    return ran
