"""What only PostgreSQL needs: migrating once under a race, batches as transactions, the chaining
frontier with writers in flight, and passwords that never show."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from recorder.store.location import is_postgres, masked, scrub, spill_path
from tests.support.pg import ROOT, Databases


def exchange_row(uid: str, **extra: object) -> tuple[str, dict[str, object]]:
    return "exchanges", {"uid": uid, "started_at": 1.0, "method": "POST", "path": "/v1/chat/completions", **extra}


def test_a_password_is_masked_in_every_form_and_never_names_the_spill_file():
    url = "postgresql://team:s3cr3t-pw@db.example:6543/traces?sslmode=require&password=other-pw"
    shown = masked(url)
    assert "s3cr3t-pw" not in shown and "other-pw" not in shown
    assert shown.startswith("postgresql://team:***@db.example:6543/traces") and "sslmode=require" in shown
    assert masked("postgres://me@h/db") == "postgres://me@h/db" and masked("/tmp/x.db") == "/tmp/x.db"
    assert scrub("FATAL: password s3cr3t-pw rejected", url) == "FATAL: password *** rejected"
    assert "s3cr3t" not in str(spill_path(url)) and str(spill_path(url)).endswith(
        "team@db.example-6543-traces.spill.jsonl"
    )
    assert is_postgres("PostgreSQL://x/y") and not is_postgres("postgres.db")


def test_several_processes_starting_on_a_fresh_database_migrate_it_once(pg_databases: Databases):
    url = pg_databases.create(migrated=False)
    code = "import sys; from recorder.store.postgres.sink import PostgresSink; PostgresSink(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    from recorder.store import migrations
    from recorder.store.postgres.connection import PgConnection, open_raw

    with PgConnection(open_raw(url), url) as conn:
        names = [r["name"] for r in conn.execute("SELECT name FROM _migrations ORDER BY applied_at")]
    assert names == [m.__name__ for m in migrations.MIGRATIONS]


def test_a_batch_is_all_or_nothing_and_a_uid_is_stored_once(pg):
    from recorder.store.postgres.sink import PostgresSink, PostgresWriteError

    sink = PostgresSink(pg.location)
    try:
        broken = [exchange_row("a"), exchange_row("b"), ("exchanges", {"uid": "c", "started_at": 1.0})]  # no method
        with pytest.raises(PostgresWriteError, match="method"):
            sink.write(broken)
        assert pg.count() == 0
        assert sink.write([exchange_row("a"), exchange_row("b", error="nul \x00 here")]) == 2
        assert sink.write([exchange_row("a"), exchange_row("b"), exchange_row("d")]) == 1
    finally:
        sink.close()
    assert [r["uid"] for r in pg.rows()] == ["a", "b", "d"]
    assert pg.rows("SELECT error FROM exchanges WHERE uid = ?", ("b",))[0][0] == "nul \ufffd here"


def test_the_chaining_frontier_waits_for_a_batch_still_in_flight(pg):
    """A lower id committing after a higher one must not be skipped by a reader's cursor."""
    from recorder.store.postgres import locks
    from recorder.store.postgres.connection import PgConnection, open_raw
    from recorder.store.postgres.sink import PostgresSink

    slow = open_raw(pg.location)
    reader = PgConnection(open_raw(pg.location), pg.location)
    sink = PostgresSink(pg.location)
    try:
        with slow.transaction():
            slow.execute("SELECT pg_advisory_xact_lock_shared(%s)", (locks.WRITE,))
            slow.execute("INSERT INTO exchanges (uid, started_at, method, path) VALUES ('early', 1, 'POST', '/v1/x')")
            sink.write([exchange_row("late")])  # a higher id, committed first
            seen: list[int] = []
            waiting = threading.Thread(target=lambda: seen.append(reader.frontier("exchanges")))
            waiting.start()
            time.sleep(0.3)
            assert not seen  # the reader waits while a batch is in flight
        waiting.join(5)
        ids = {r["uid"]: r["id"] for r in pg.rows()}
        assert seen == [max(ids.values())] and ids["early"] < ids["late"]
    finally:
        sink.close()
        slow.close()
        reader.close()


async def test_an_unreachable_server_keeps_recording_into_the_spill_file_and_never_shows_the_password(
    tmp_path, monkeypatch, caplog
):
    import logging

    from recorder.events import LLMExchange
    from recorder.store.writer import Store, WriterConfig
    from tests.support.serving import free_port

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    url = f"postgresql://team:hunter2-secret@127.0.0.1:{free_port()}/traces"  # nothing listens there
    store = Store(WriterConfig(path=url))
    with caplog.at_level(logging.WARNING, "tracemill.store"):
        await store.start()
        store.record(LLMExchange("POST", "/v1/chat/completions", "http://u/v1", [], b"{}"))
        await store.flush()
        await store.close()
    assert store.stats.spilled == 1 and store.spill_file.exists() and not store.healthy
    assert str(store.spill_file).startswith(str(tmp_path / "state"))
    assert (
        "cannot connect to postgresql://team:***@127.0.0.1" in caplog.text and "tracemill store recover" in caplog.text
    )
    assert "hunter2" not in caplog.text + str(store.health()) + str(store.spill_file)


def test_a_postgresql_url_without_the_driver_is_a_one_line_error_that_says_what_to_install(tmp_path):
    hide = (
        "import sys; sys.modules['psycopg'] = None; sys.argv = ['tracemill', *sys.argv[1:]]; "
        "from proxy.cli import run; run()"
    )
    for args in (["traces", "list"], ["serve", "--port", "1"], ["store", "recover"]):
        result = subprocess.run(
            [sys.executable, "-c", hide, *args, "--db", "postgresql://me:pw-secret@127.0.0.1:1/x"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1] == (
            "Error: a PostgreSQL store needs the psycopg driver: pip install 'tracemill[postgres]'"
        ), result.stderr
        assert "Traceback" not in result.stderr and "pw-secret" not in result.stderr + result.stdout
