"""The reference npm server, server-everything, through the wrapper and through /mcp/everything,
with upstream stdio and upstream streamable HTTP. Skips without npx locally; fails under CI."""

from __future__ import annotations

import os
import sqlite3
import sys

import pytest
from mcp import Client, StdioServerParameters
from mcp_types import CreateMessageResult, TextContent

from proxy.config import MCPServerConfig
from tests.support.mcp_harness import (
    EVERYTHING,
    ROOT,
    everything_stdio,
    free_port,
    mcp_proxy,
    need_npx,
    scenario,
    wait_port,
)
from tests.support.procs import stop_group

pytestmark = pytest.mark.slow  # real processes, models or many subprocesses: `-m "not slow"` skips them


async def sample(ctx, params):
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="sampled!"), model="stub")


async def walk(target, mode="legacy"):
    async with Client(target, mode=mode, sampling_callback=sample) as client:
        seen = await scenario(client, elicit_tool=None)
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 5})
        seen["sampled"] = sampled.model_dump(mode="json", exclude_none=True)
        return seen


@pytest.fixture
async def everything_http():
    need_npx()
    import subprocess

    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    # Its own process group: npx's node child outlives npx, so the whole group is ended.
    proc = subprocess.Popen(
        [*EVERYTHING, "streamableHttp"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0
    )
    try:
        await wait_port(port, proc, timeout=120)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_group(proc)


async def test_everything_over_stdio_through_wrap_and_mcp_route(tmp_path):
    need_npx()
    db = tmp_path / "e.db"
    direct = await walk(StdioServerParameters(command=EVERYTHING[0], args=EVERYTHING[1:]))
    assert "sampled!" in str(direct["sampled"])
    wrapped = StdioServerParameters(
        command=sys.executable,
        args=["-m", "proxy", "wrap", "--name", "everything", "--db", str(db), "--", *EVERYTHING],
        cwd=str(ROOT),
    )
    assert await walk(wrapped) == direct
    async with mcp_proxy(db, everything_stdio()) as (proxy, app):
        assert await walk(f"{proxy}/mcp/everything") == direct
        await app.recorder.flush()
    conn = sqlite3.connect(db)
    for transport in ("stdio", "http"):
        kinds = dict(
            conn.execute(
                "SELECT kind, count(*) FROM mcp_messages WHERE transport = ? GROUP BY kind", (transport,)
            ).fetchall()
        )
        assert kinds["request"] >= 10 and kinds["response"] >= 10 and kinds["notification"] >= 4
        methods = {
            r[0]
            for r in conn.execute(
                "SELECT method FROM mcp_messages WHERE transport = ? AND direction = 's2c' AND kind = 'request'",
                (transport,),
            )
        }
        assert "sampling/createMessage" in methods  # server-to-client request, answered by the client


async def test_everything_over_streamable_http_upstream(tmp_path, everything_http):
    db = tmp_path / "e.db"
    direct = await walk(everything_http)
    async with mcp_proxy(db, MCPServerConfig(name="everything", url=everything_http)) as (proxy, app):
        assert await walk(f"{proxy}/mcp/everything") == direct
        await app.recorder.flush()
    conn = sqlite3.connect(db)
    calls = conn.execute(
        "SELECT tool, latency_ms FROM mcp_calls WHERE server = 'everything' AND response IS NOT NULL"
    ).fetchall()
    assert {"echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request"} <= {c[0] for c in calls}
