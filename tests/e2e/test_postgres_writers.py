"""Many writers on one PostgreSQL database: 4 `tracemill serve` and 2 `tracemill wrap` processes under
load (32 requests in flight each) while two readers keep refreshing. Every exchange and message is
stored exactly once, nothing is spilled, and the episodes equal a single-process run of the same traffic."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from typing import Any

import httpx2
import pytest

from proxy.fakes.demo import TOOLS
from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from recorder import open_reader
from tests.support.cli import tm
from tests.support.mcp_harness import ROOT
from tests.support.serving import start_serve
from tests.support.stores import TestStore, with_password

pytestmark = pytest.mark.slow

CONCURRENCY = 32
CONVERSATIONS = 100  # per proxy, two requests each
MCP_CALLS = 300  # per wrap


async def agent(client: httpx2.AsyncClient, base: str) -> None:
    """Ask, run the two tools the model calls, ask again (streamed): two exchanges, one episode."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris and in Tokyo?"}]
    body = {"model": "q", "messages": messages, "tools": TOOLS}
    first = await client.post(f"{base}/v1/chat/completions", json=body, headers={"x-script-parallel": "2"})
    assert first.status_code == 200, first.text
    answer = first.json()["choices"][0]["message"]
    messages.append(answer)
    messages += [{"role": "tool", "tool_call_id": c["id"], "content": "sunny"} for c in answer["tool_calls"]]
    second = await client.post(f"{base}/v1/chat/completions", json={**body, "messages": messages, "stream": True})
    assert second.status_code == 200 and b"[DONE]" in second.content


async def drive(proxies: list[str], sessions: list[list[str]]) -> None:
    """Each proxy gets its own conversations, 32 at a time."""
    async with httpx2.AsyncClient(timeout=60, limits=httpx2.Limits(max_connections=200)) as client:

        async def one_proxy(proxy: str, keys: list[str]) -> None:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(key: str) -> None:
                async with gate:
                    await agent(client, f"{proxy}/s/{key}")

            await asyncio.gather(*(one(k) for k in keys))

        await asyncio.gather(*(one_proxy(p, keys) for p, keys in zip(proxies, sessions, strict=True)))


async def wrap_load(location: str, name: str) -> int:
    """`tracemill wrap` around a stdio server, 32 tools/call in flight; returns the messages exchanged."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "wrap", "--name", name, "--db", location, "--",
        sys.executable, "-m", "tests.support.mcp_servers.lineserver",
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin and proc.stdout

    async def send(message: dict[str, Any]) -> None:
        proc.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
        await proc.stdin.drain()  # type: ignore[union-attr]

    await send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}})
    await proc.stdout.readline()
    answered = 0
    for start in range(1, MCP_CALLS + 1, CONCURRENCY):
        ids = range(start, min(start + CONCURRENCY, MCP_CALLS + 1))
        for i in ids:
            await send(
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"message": f"m{i}"}},
                }
            )
        for _ in ids:
            assert json.loads(await proc.stdout.readline())["result"]
            answered += 1
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    return 2 + 2 * answered


def keep_refreshing(location: str, stop: threading.Event, errors: list[BaseException]) -> None:
    """A reader that refreshes the derived tables over and over while the writers write."""
    try:
        with open_reader(location) as reader:
            while not stop.is_set():
                reader.refresh()
    except BaseException as exc:
        errors.append(exc)


def episodes(location: str) -> list[tuple[Any, ...]]:
    listed = [
        json.loads(line)
        for line in tm("traces", "list", "--limit", "10000", "--json", "--db", location).stdout.splitlines()
    ]
    keys = (
        "session",
        "model",
        "source",
        "exchanges",
        "turns",
        "tool_calls",
        "prompt_tokens",
        "completion_tokens",
        "first_user",
    )
    return sorted((*(e[k] for k in keys), e["forked_from"] is None) for e in listed)


async def test_four_proxies_and_two_wraps_write_one_database_exactly_once(pg: TestStore, pg_databases):
    sessions = [[f"p{p}-c{c}" for c in range(CONVERSATIONS)] for p in range(4)]
    stop, errors = threading.Event(), []
    readers = [threading.Thread(target=keep_refreshing, args=(pg.location, stop, errors)) for _ in range(2)]
    async with running(ScriptedUpstream()) as upstream:
        serves = [start_serve(pg, upstream + "/v1") for _ in range(4)]
        try:
            for r in readers:
                r.start()
            results = await asyncio.gather(
                drive([url for _, url in serves], sessions), wrap_load(pg.location, "w1"), wrap_load(pg.location, "w2")
            )
        finally:
            for proc, _ in serves:
                proc.terminate()
            for proc, _ in serves:
                proc.wait(30)
            stop.set()
            for r in readers:
                r.join(30)
        assert not errors, errors
        # The same traffic through one process into a database of its own.
        alone = TestStore(with_password(pg_databases.create()), "postgres", pg.folder)
        proc, url = start_serve(alone, upstream + "/v1")
        try:
            await drive([url], [[key for keys in sessions for key in keys]])
        finally:
            proc.terminate()
            proc.wait(30)
    requests = 4 * CONVERSATIONS * 2
    assert pg.count() == requests and len({r[0] for r in pg.rows("SELECT uid FROM exchanges")}) == requests
    assert pg.count("mcp_messages") == sum(results[1:])
    assert pg.rows("SELECT count(*), count(DISTINCT uid) FROM mcp_messages")[0] == (sum(results[1:]),) * 2
    assert not any((pg.folder / "state").rglob("*.spill.jsonl*")), "nothing may reach a spill file"
    assert episodes(pg.location) == episodes(alone.location)
    assert len(episodes(pg.location)) == 4 * CONVERSATIONS
    # Chained once each: every chat exchange in exactly one episode, counted once.
    assert pg.rows("SELECT count(*), count(DISTINCT exchange_id) FROM episode_exchanges")[0] == (requests, requests)
    assert pg.rows("SELECT sum(exchanges) FROM episodes")[0][0] == requests
    assert os.environ.get("XDG_STATE_HOME", "").startswith(str(pg.folder))
