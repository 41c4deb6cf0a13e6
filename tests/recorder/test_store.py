"""The store: migrations, batching, failures that spill instead of dropping, and recovery, on both backends."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from recorder.events import LLMExchange
from recorder.store import migrations
from recorder.store.spill import recover
from recorder.store.sqlite import connect
from recorder.store.writer import Store, WriterConfig


def exchange(i: int) -> LLMExchange:
    return LLMExchange(
        method="POST",
        path="/v1/chat/completions",
        upstream_url="http://u/v1/chat/completions",
        request_headers=[],
        request_body=b'{"model": "m%d", "messages": []}' % i,
        status=200,
        response_headers=[(b"content-type", b"application/json")],
        response_chunks=[b'{"choices": []}'],
    )


def test_migrations_run_once_and_upgrade_an_older_file(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    conn.close()
    first = connect(db)
    assert migrations.apply(first) == []
    assert [r[0] for r in first.execute("SELECT name FROM _migrations")] == [m.__name__ for m in migrations.MIGRATIONS]
    assert first.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_events_are_written_in_batches(db):
    store = Store(WriterConfig(path=str(db)))
    await store.start()
    for i in range(600):
        store.record(exchange(i))
    await store.flush()
    await store.close()
    assert db.count() == 600


async def test_a_failing_store_spills_and_recover_loads_back(db, caplog):
    store = Store(WriterConfig(path=str(db)))
    await store.start()
    db.fail_writes("database or disk is full")
    with caplog.at_level(logging.WARNING, "tracemill.store"):
        for i in range(5):
            store.record(exchange(i))
        await store.flush()
    backend = "PostgreSQL" if db.is_postgres else "SQLite"
    assert f"{backend} write failed (" in caplog.text and "database or disk is full" in caplog.text
    assert "tracemill store recover" in caplog.text
    assert not store.healthy and store.stats.spilled == 5
    db.allow_writes()
    store.record(exchange(99))
    await store.flush()
    await store.close()
    assert store.healthy and db.count() == 1
    assert recover(str(db)) == (5, 5)
    assert db.count() == 6
    assert recover(str(db)) == (0, 0)


async def test_queue_overflow_spills_rather_than_blocking(db, caplog):
    store = Store(WriterConfig(path=str(db), queue_size=2))
    await store.start()
    with caplog.at_level(logging.WARNING, "tracemill.store"):
        for i in range(50):
            store.record(exchange(i))  # no await in between: the writer cannot drain
    await store.flush()
    await store.close()
    assert "queue is full" in caplog.text
    assert db.count() + store.stats.spilled == 50 and store.stats.spilled >= 40
    recover(str(db))
    assert db.count() == 50


async def test_several_writers_share_one_store(db):
    stores = [Store(WriterConfig(path=str(db))) for _ in range(3)]
    for s in stores:
        await s.start()
    for i in range(300):
        stores[i % 3].record(exchange(i))
    await asyncio.gather(*(s.flush() for s in stores))
    for s in stores:
        await s.close()
    assert db.count() == 300


async def test_a_store_that_cannot_open_keeps_serving_into_the_spill_file(tmp_path, caplog):
    folder = tmp_path / "trace.db"
    folder.mkdir()  # a folder where the database file should be: SQLite cannot open it
    store = Store(WriterConfig(path=str(folder)))
    with caplog.at_level(logging.WARNING, "tracemill.store"):
        await store.start()
        store.record(exchange(1))
        await store.flush()
        await store.close()
    assert "cannot open the store" in caplog.text and not store.healthy
    assert store.stats.spilled == 1 and store.spill_file.exists()


def test_reading_upgrades_an_older_file_once_and_refuses_a_newer_one(tmp_path):
    from recorder import SchemaError, open_reader

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    migrations.MIGRATIONS[0](conn)  # a file from a tracemill that knew only the first step
    conn.execute("INSERT INTO _migrations VALUES (?, 0)", (migrations.MIGRATIONS[0].__name__,))
    conn.close()
    with open_reader(db) as reader:
        assert reader.exchanges() == [] and reader.episodes() == []
    conn = sqlite3.connect(db, isolation_level=None)
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")] == [
        m.__name__ for m in migrations.MIGRATIONS
    ]
    conn.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    conn.close()
    with pytest.raises(SchemaError, match=r"newer tracemill.*m999_from_the_future"):
        open_reader(db)


def test_the_cli_says_so_in_one_line(tmp_path):
    from tests.support.cli import tm

    db = tmp_path / "new.db"
    connect(db).execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    result = tm("traces", "list", "--db", str(db))
    assert result.returncode == 1 and "written by a newer tracemill" in result.stderr
    assert "Traceback" not in result.stderr
