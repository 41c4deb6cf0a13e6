"""PostgreSQL going away: stopped mid-load, the proxy keeps answering, spills, and `store recover`
after the restart loses nothing; SIGKILLed during a batch, no partial batch is visible and no
batch the sink acknowledged is lost. Each test runs a private cluster it may stop and kill."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx2
import pytest

from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from tests.support.cli import tm
from tests.support.pg import cluster
from tests.support.serving import start_serve
from tests.support.stores import TestStore

pytestmark = pytest.mark.slow


async def send(client: httpx2.AsyncClient, proxy: str, start: int, count: int) -> None:
    """`count` chat requests, 8 at a time; every one must be answered."""
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with gate:
            body = {"model": "q", "messages": [{"role": "user", "content": f"question {i}"}], "stream": i % 2 == 0}
            answer = await client.post(f"{proxy}/s/k{i}/v1/chat/completions", json=body)
            assert answer.status_code == 200 and answer.content

    await asyncio.gather(*(one(i) for i in range(start, start + count)))


async def test_a_stopped_server_leaves_the_proxy_answering_and_recover_loses_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with cluster() as pg:
        store = TestStore(pg.database(), "postgres", tmp_path)
        async with running(ScriptedUpstream()) as upstream, httpx2.AsyncClient(timeout=30) as client:
            proc, proxy = start_serve(store, upstream + "/v1")
            try:
                total = 0

                async def until(text: str, step: float) -> None:
                    """Keep a trickle of traffic going (load never stops) until the proxy's log says `text`."""
                    nonlocal total
                    deadline = time.monotonic() + 30
                    while text not in log.read_text() and time.monotonic() < deadline:
                        await send(client, proxy, total, 1)
                        total += 1
                        await asyncio.sleep(step)

                log = Path(proc.log_path)  # type: ignore[attr-defined]
                await send(client, proxy, total, 40)
                total += 40
                await asyncio.sleep(0.5)
                await asyncio.to_thread(pg.stop)  # mid-load: the next batches cannot be written
                await send(client, proxy, total, 60)
                total += 60
                await until("write failed", 0.25)  # a batch waits a few seconds for the server, then is spilled
                await asyncio.to_thread(pg.start)  # off the loop: the upstream here keeps answering
                await send(client, proxy, total, 40)
                total += 40
                await until("recording recovered", 0.25)  # the writer reconnects by itself, within seconds
                await asyncio.sleep(0.5)
            finally:
                proc.terminate()
                proc.wait(30)
        log = Path(proc.log_path).read_text()  # type: ignore[attr-defined]
        assert "tm-" not in log
        assert "PostgreSQL write failed" in log and "tracemill store recover" in log
        assert "recording recovered" in log
        spilled = list((tmp_path / "state").rglob("*.spill.jsonl"))
        assert len(spilled) == 1 and spilled[0].stat().st_size > 0
        before = store.count()
        assert 40 <= before < total  # what was written before the stop and after the restart
        recovered = tm("store", "recover", "--db", str(store))
        assert recovered.returncode == 0, recovered.stderr
        assert f"inserted {total - before}" in recovered.stdout
        assert store.count() == total and store.rows("SELECT count(DISTINCT session) FROM exchanges")[0][0] == total
        assert "inserted 0" in tm("store", "recover", "--db", str(store)).stdout  # nothing left, nothing twice


def test_a_server_killed_during_batches_shows_whole_batches_and_keeps_every_acknowledged_one(tmp_path: Path):
    from recorder.store.postgres.sink import PostgresSink, PostgresWriteError

    size = 500
    with cluster() as pg:
        url = pg.database()
        sink = PostgresSink(url)
        acknowledged: list[int] = []
        failed: list[int] = []
        stop = threading.Event()

        def write_batches() -> None:
            batch = 0
            while not stop.is_set():
                rows = [
                    ("exchanges", {"uid": f"b{batch}-{i}", "started_at": time.time(), "session": f"batch-{batch}",
                                   "method": "POST", "path": "/v1/chat/completions", "request_json": "x" * 2000})
                    for i in range(size)
                ]  # fmt: skip
                try:
                    sink.write(rows)
                    acknowledged.append(batch)
                except PostgresWriteError:
                    failed.append(batch)
                    return
                batch += 1

        writer = threading.Thread(target=write_batches)
        writer.start()
        while len(acknowledged) < 5:
            time.sleep(0.01)
        pg.sigkill()  # most likely in the middle of a batch: they follow each other without pause
        writer.join(60)
        stop.set()
        sink.close()
        assert failed, "the batch in flight when the server died must fail, not be acknowledged"
        pg.start()  # crash recovery
        store = TestStore(url, "postgres", tmp_path)
        counts = {r[0]: r[1] for r in store.rows("SELECT session, count(*) FROM exchanges GROUP BY session")}
        assert all(n == size for n in counts.values()), counts  # no partial batch
        assert {f"batch-{b}" for b in acknowledged} <= set(counts)  # nothing acknowledged is lost
        assert set(counts) <= {f"batch-{b}" for b in acknowledged + failed}
