"""Incremental work remembers how far it got: one named cursor per derived table (`_cursors`)."""

from __future__ import annotations

from recorder.store.dbapi import Connection


def get(db: Connection, name: str) -> int:
    row = db.execute("SELECT value FROM _cursors WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def put(db: Connection, name: str, value: int) -> None:
    db.execute(
        "INSERT INTO _cursors VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value)
    )
