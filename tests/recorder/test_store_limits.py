"""The store is bounded: queue bytes, body size, decompression, shutdown time; and its files are private."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest

from recorder import LLMExchange, Redactor, Store, WriterConfig
from recorder.ingest.event_rows import exchange_row
from recorder.store import spill
from recorder.store.spill import recover

KEY = "sk-spilled-secret-0123456789"


def exchange(i: int, size: int = 100) -> LLMExchange:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * size}], "n": i}).encode()
    ev = LLMExchange(
        "POST",
        "/v1/chat/completions",
        "http://up/v1/chat/completions",
        [(b"authorization", b"Bearer " + KEY.encode())],
        body,
    )
    ev.status, ev.response_headers = 200, [(b"content-type", b"application/json")]
    ev.response_chunks = [
        b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "' + KEY.encode() + b'"}}]}'
    ]
    ev.secrets = (KEY,)
    return ev


def count(db: Path) -> int:
    return sqlite3.connect(db).execute("SELECT count(*) FROM exchanges").fetchone()[0]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_store_wal_shm_spill_and_folder_are_private_under_umask_022(tmp_path, umask_022):
    db = tmp_path / "new-folder" / "t.db"
    store = Store(WriterConfig(path=str(db)))
    await store.start()
    store.record(exchange(0))
    await store.flush()
    files = {p.name: p.stat().st_mode & 0o777 for p in db.parent.iterdir()}
    await store.close()
    spill.append(spill.spill_path(db), [("exchanges", {"uid": "x"})])
    assert files == {"t.db": 0o600, "t.db-wal": 0o600, "t.db-shm": 0o600}
    assert spill.spill_path(db).stat().st_mode & 0o777 == 0o600
    assert db.parent.stat().st_mode & 0o777 == 0o700


async def test_the_queue_is_bounded_in_bytes_and_spills_events_without_their_secrets(db_path, caplog):
    store = Store(WriterConfig(path=str(db_path), max_queue_bytes=1_000_000))
    await store.start()
    with caplog.at_level(logging.WARNING, "tracemill.store"):
        for i in range(50):
            store.record(exchange(i, size=100_000))  # no await in between: the writer cannot drain
        assert store._queued_bytes <= 1_000_000
        await store.flush()
    await store.close()
    assert "queue is full" in caplog.text
    assert store.stats.spilled >= 40 and count(db_path) + store.stats.spilled == 50
    assert KEY.encode() not in spill.spill_path(db_path).read_bytes()
    assert recover(db_path) == (store.stats.spilled, store.stats.spilled)
    assert count(db_path) == 50
    answers = sqlite3.connect(db_path).execute("SELECT response_json FROM exchanges").fetchall()
    assert all("[REDACTED]" in a for (a,) in answers) and not any(KEY in a for (a,) in answers)


async def test_close_spills_what_a_slow_writer_has_not_written_within_drain_seconds(db_path, monkeypatch, caplog):
    from recorder.store import writer

    real_build = writer.build

    def slow_build(event, *args):
        time.sleep(3)  # a writer far behind: a huge stream to parse, a slow disk
        return real_build(event, *args)

    monkeypatch.setattr(writer, "build", slow_build)
    store = Store(WriterConfig(path=str(db_path), drain_seconds=0.5))
    await store.start()
    for i in range(5):
        store.record(exchange(i))
    await asyncio.sleep(0.05)  # the writer has taken the first batch
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, "tracemill.store"):
        await store.close()
    took = time.monotonic() - t0
    assert took < 2.5, took  # the drain bound (0.5 s), not the slow writer (15 s), decides
    assert "drain_seconds" in caplog.text and store.stats.spilled == 5
    monkeypatch.setattr(writer, "build", real_build)
    read, _ = recover(db_path)
    assert read == 5 and count(db_path) == 5  # every finished exchange is kept


def test_decompression_is_capped_and_the_row_flagged():
    ev = exchange(0)
    ev.response_headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
    ev.response_chunks = [gzip.compress(b'{"pad": "' + b"0" * 50_000_000 + b'"}')]  # 50 MB from ~50 KB
    assert len(ev.response_chunks[0]) < 100_000
    _, row = exchange_row(ev, Redactor(), max_body=1_000_000)
    assert row["body_truncated"] == 1 and "max_body_bytes" in row["note"]
    assert len(row["response_raw"]) == 1_000_000 and row["response_json"] is None


def test_deep_json_is_stored_raw_with_a_note():
    ev = exchange(0)
    ev.request_body = b"[" * 1000 + b"]" * 1000
    ev.response_headers = [(b"content-type", b"text/event-stream")]
    ev.response_chunks = [b"data: " + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"\n\ndata: [DONE]\n\n"]
    _, row = exchange_row(ev, Redactor())
    assert row["request_json"] is None and row["request_raw"] == ev.request_body
    assert row["response_json"] is None and row["response_raw"].startswith(b"data: {")
    assert "request nested too deeply" in row["note"] and "response nested too deeply" in row["note"]
