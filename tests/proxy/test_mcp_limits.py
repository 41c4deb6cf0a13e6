"""Bounded MCP ways in: a per-server cap on upstream sessions (children) across HTTP sessions,
shared /s/<key> channels and legacy SSE; idle ones reaped by a sweep; backlogs bounded in bytes."""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx2

from proxy.mcp.inbound.limits import Backlog
from recorder.sse import SSEParser
from tests.support.mcp_harness import line_stdio, mcp_proxy
from tests.support.procs import command_line, descendants
from tests.support.raw_mcp import ACCEPT, INIT, RawMCP, call


def servers() -> list[int]:
    """Live lineserver children of this test process."""
    return [pid for pid in descendants(os.getpid()) if "mcp_servers.lineserver" in command_line(pid)]


async def eventually(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def test_the_child_cap_holds_across_sessions_shared_channels_and_sse(tmp_path):
    async with (
        mcp_proxy(tmp_path / "m.db", line_stdio("line", max_sessions=3)) as (url, _app),
        httpx2.AsyncClient(timeout=10) as http,
    ):
        sessions = [RawMCP(http, url + "/mcp/line") for _ in range(2)]
        for s in sessions:
            await s.initialize()
        shared = RawMCP(http, url + "/s/key-a/mcp/line")  # a shared channel takes a slot too
        (echo,) = await shared.ask(call(1, "echo", message="shared"))
        assert json.loads(echo)["result"]["content"][0]["text"] == "shared"
        assert len(servers()) == 3
        refused = [
            await RawMCP(http, url + "/mcp/line").post(INIT),
            await RawMCP(http, url + "/s/key-b/mcp/line").post(call("c-1", "echo", message="x")),
            await http.get(url + "/mcp/line/sse"),
        ]
        for response in refused:
            assert response.status_code == 503
            error = response.json()["error"]
            assert "mcp.servers.line.max_sessions" in error["message"] and error["data"]["limit"] == 3
        assert [r.json()["id"] for r in refused] == [0, "c-1", None]  # answers the request it refused
        assert len(servers()) == 3  # and started nothing
        assert await sessions[0].delete() == 200
        await eventually(lambda: len(servers()) == 2)
        (echo,) = await RawMCP(http, url + "/s/key-b/mcp/line").ask(call(2, "echo", message="room now"))
        assert "room now" in echo
        assert len(servers()) == 3
    assert servers() == []


async def test_idle_sessions_and_shared_channels_are_reaped_without_new_traffic(tmp_path):
    async with (
        mcp_proxy(tmp_path / "m.db", line_stdio("line", idle_seconds=0.5)) as (url, app),
        httpx2.AsyncClient(timeout=10) as http,
    ):
        abandoned = RawMCP(http, url + "/mcp/line")  # initializes, then vanishes without DELETE
        await abandoned.initialize()
        await RawMCP(http, url + "/s/once/mcp/line").ask(call(1, "echo", message="x"))
        assert len(servers()) == 2
        await eventually(lambda: servers() == [], seconds=10)
        assert app.mcp.http["line"].sessions == {}
        gone = await abandoned.post(call(2, "echo", message="late"))
        assert gone.status_code == 404  # the client learns its session ended


async def test_a_backlog_for_a_get_stream_not_open_yet_is_bounded_in_bytes(tmp_path):
    limit, size, count = 200_000, 10_000, 300  # 3 MB of notifications against a 200 kB backlog
    async with (
        mcp_proxy(tmp_path / "m.db", line_stdio("line", backlog_bytes=limit)) as (url, app),
        httpx2.AsyncClient(timeout=10) as http,
    ):
        mcp = RawMCP(http, url + "/mcp/line")
        await mcp.initialize()
        await mcp.ask(call(1, "flood", count=count, size=size, after=0.3))  # answered; the flood comes later
        session = app.mcp.http["line"].sessions[mcp.session]
        await eventually(lambda: session.log.dropped > 0 and session.backlog.dropped > 0)
        await asyncio.sleep(0.3)
        got: list[str] = []
        parser = SSEParser()
        async with http.stream("GET", mcp.url, headers={**ACCEPT, "mcp-session-id": mcp.session}) as response:
            async for chunk in response.aiter_raw():
                got += [e.data for e in parser.feed(chunk)]
                if got and got[-1].endswith(f'{count - 1}"}}}}'):
                    break
    assert len(got) < count and sum(len(g) for g in got) <= limit + size + 200  # oldest dropped
    assert [int(json.loads(g)["params"]["data"][size:]) for g in got] == list(range(count - len(got), count))


def test_a_backlog_drops_the_oldest_droppable_items_but_keeps_answers_and_the_newest():
    backlog: Backlog[str] = Backlog(10, "test")
    backlog.append("answer", 4, droppable=False)
    for name in ("n1", "n2", "n3"):
        backlog.append(name, 4)
    assert list(backlog) == ["answer", "n3"] and backlog.size == 8 and backlog.dropped == 2
    backlog.append("huge", 100)
    assert list(backlog) == ["answer", "huge"]


def test_the_limits_are_read_from_the_config_and_checked():
    import pytest

    from proxy.config import ConfigError, parse_mcp_server

    server = parse_mcp_server("s", {"command": "x", "max_sessions": 4, "idle_seconds": 30, "backlog_bytes": 1000})
    assert (server.max_sessions, server.idle_seconds, server.backlog_bytes) == (4, 30.0, 1000)
    assert parse_mcp_server("d", {"command": "x"}).max_sessions == 32
    with pytest.raises(ConfigError, match=r"mcp\.servers\.s\.max_sessions must be more than 0"):
        parse_mcp_server("s", {"command": "x", "max_sessions": 0})
