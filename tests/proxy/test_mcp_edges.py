"""The MCP relay under stress: huge lines, stray output, crashes, cancellation, isolation, auth."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from proxy.config import MCPServerConfig
from proxy.server import running
from tests.support.mcp_harness import ROOT, mcp_proxy, py_stdio, wrap_params
from tests.support.store_rows import Canned


def wrapped_py(db) -> StdioServerParameters:
    config = py_stdio()
    return wrap_params(db, "py", "--", config.command, *config.args)


def rows(db, sql, args=()):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return conn.execute(sql, args).fetchall()


@pytest.mark.slow
async def test_ten_megabyte_tool_result_through_the_wrapper(tmp_path):
    db = tmp_path / "m.db"
    async with Client(wrapped_py(db), mode="legacy") as client:
        result = await client.call_tool("big-result", {"size": 10_000_000})
    assert len(result.content[0].text) == 10_000_000
    (answer,) = rows(db, "SELECT * FROM mcp_calls WHERE tool = 'big-result'")
    assert answer["is_error"] == 0 and len(answer["response"]) > 10_000_000


async def test_a_stray_stdout_line_is_relayed_and_recorded_and_the_session_goes_on(tmp_path):
    db = tmp_path / "m.db"
    raw = wrap_params(db, "raw", "--", sys.executable, "-m", "tests.support.mcp_servers.rawserver")
    async with Client(raw, mode="legacy") as client:
        assert (await client.call_tool("echo", {"message": "still here"})).content[0].text == "Echo: still here"
    (bad,) = rows(db, "SELECT * FROM mcp_messages WHERE kind = 'invalid'")
    assert bad["body"] == "rawserver v1 starting (this line is not JSON)" and bad["direction"] == "s2c"


@pytest.mark.slow
def test_a_crashing_child_answers_pending_requests_and_sets_the_exit_code(tmp_path):
    db = tmp_path / "m.db"
    config = py_stdio()
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": "call-1", "method": "tools/call", "params": {"name": "crash", "arguments": {}}},
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "wrap", "--name", "py", "--db", str(db), "--", config.command, *config.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
    proc.stdin.flush()
    out = [json.loads(line) for line in proc.stdout]
    assert proc.wait(20) == 3
    error = next(m for m in out if m.get("id") == "call-1")["error"]
    assert "MCP server 'py' exited with code 3" in error["message"]
    (answer,) = rows(db, "SELECT * FROM mcp_calls WHERE tool = 'crash'")
    assert answer["response_kind"] == "error" and answer["is_error"] == 1


async def test_client_cancellation_is_relayed_and_the_session_continues(tmp_path):
    db = tmp_path / "m.db"
    async with Client(wrapped_py(db), mode="legacy") as client:
        with anyio.move_on_after(0.5):
            await client.call_tool("trigger-long-running-operation", {"duration": 5, "steps": 5})
        assert (await client.call_tool("echo", {"message": "after"})).content[0].text == "Echo: after"
    await asyncio.sleep(0.2)
    (cancel,) = rows(db, "SELECT * FROM mcp_messages WHERE method = 'notifications/cancelled'")
    assert cancel["direction"] == "c2s"


@pytest.mark.slow
async def test_two_concurrent_sessions_do_not_see_each_others_messages(tmp_path):
    db = tmp_path / "m.db"
    async with mcp_proxy(db, py_stdio("py")) as (proxy, app):

        async def one(word: str) -> tuple[str, list[float]]:
            progress: list[float] = []

            async def on_progress(p, total, message):
                progress.append(p)

            async with Client(f"{proxy}/mcp/py", mode="legacy") as client:
                await client.call_tool(
                    "trigger-long-running-operation", {"duration": 0.4, "steps": 4}, progress_callback=on_progress
                )
                echo = await client.call_tool("echo", {"message": word})
                return echo.content[0].text, progress

        (a, pa), (b, pb) = await asyncio.gather(one("alpha"), one("beta"))
        await app.recorder.flush()
    assert (a, b) == ("Echo: alpha", "Echo: beta")
    assert pa == pb == [1.0, 2.0, 3.0, 4.0]
    connections = {r["connection"] for r in rows(db, "SELECT connection FROM mcp_messages")}
    assert len(connections) == 2
    for connection in connections:
        echoes = rows(db, "SELECT arguments FROM mcp_calls WHERE tool = 'echo' AND session = ?", (connection,))
        assert len(echoes) == 1


async def test_upstream_401_reaches_the_client_unchanged_and_auth_is_not_passed_by_default(tmp_path):
    upstream = Canned([b'{"error": "unauthorized"}'], status=401, content_type=b"application/json")

    async def app(scope, receive, send):
        if scope["type"] == "http":
            original = send

            async def send_with_challenge(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [
                        *message["headers"],
                        (b"www-authenticate", b'Bearer resource_metadata="http://x/.well-known"'),
                    ]
                await original(message)

            return await upstream(scope, receive, send_with_challenge)
        await upstream(scope, receive, send)

    async with running(app) as up:
        servers = [
            MCPServerConfig(name="locked", url=up + "/mcp", headers={"X-Api-Token": "configured-token-123"}),
            MCPServerConfig(name="passing", url=up + "/mcp", pass_auth=True),
        ]
        async with mcp_proxy(tmp_path / "m.db", *servers) as (proxy, _), httpx2.AsyncClient() as client:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            headers = {
                "Authorization": "Bearer client-token",
                "Mcp-Method": "tools/list",
                "Mcp-Name": "x",
                "Mcp-Param-Region": "eu",
                "Mcp-Future-Header": "1",
            }
            locked = await client.post(proxy + "/mcp/locked", json=body, headers=headers)
            await client.post(proxy + "/mcp/passing", json=body, headers=headers)
    assert locked.status_code == 401 and locked.headers["www-authenticate"].startswith("Bearer resource_metadata=")
    assert locked.json() == {"error": "unauthorized"}
    first, second = upstream.headers
    assert b"authorization" not in first and first[b"x-api-token"] == b"configured-token-123"
    assert second[b"authorization"] == b"Bearer client-token"
    for name in (b"mcp-method", b"mcp-name", b"mcp-param-region", b"mcp-future-header"):
        assert name in first
    assert first[b"host"].decode() == up.removeprefix("http://")


async def test_an_ended_session_gets_404_and_the_client_can_start_over(tmp_path):
    async with mcp_proxy(tmp_path / "m.db", py_stdio("py")) as (proxy, _):
        async with Client(f"{proxy}/mcp/py", mode="legacy") as client:
            assert (await client.call_tool("echo", {"message": "x"})).content[0].text == "Echo: x"
        async with httpx2.AsyncClient() as raw:
            gone = await raw.post(
                proxy + "/mcp/py",
                json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
                headers={"mcp-session-id": "no-such-session", "accept": "application/json, text/event-stream"},
            )
            assert gone.status_code == 404
            missing = await raw.post(proxy + "/mcp/nope", json={})
            assert missing.status_code == 404 and "py" in missing.text


@pytest.mark.slow
async def test_unknown_fields_meta_and_odd_ids_survive_byte_for_byte(tmp_path):
    db = tmp_path / "m.db"
    config = py_stdio()
    raw_lines = [
        b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"},"x-unknown":{"keep":[1,2]}}}',
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","id":"str-id-\\u00e9","method":"tools/call","params":{"name":"echo","arguments":{"message":"m"},"_meta":{"progressToken":0,"vendor/x":true}}}',
    ]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        "wrap",
        "--name",
        "py",
        "--db",
        str(db),
        "--",
        config.command,
        *config.args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(b"\n".join(raw_lines) + b"\n")
    await proc.stdin.drain()
    answers = [json.loads(await proc.stdout.readline()) for _ in range(2)]
    proc.stdin.close()
    await proc.wait()
    assert [a["id"] for a in answers] == [0, "str-id-é"]
    stored = [r["body"].encode() for r in rows(db, "SELECT body FROM mcp_messages WHERE direction = 'c2s' ORDER BY id")]
    assert stored == raw_lines


@pytest.mark.parametrize("way", ["http", "sse"])
async def test_a_stdio_server_that_cannot_start_is_a_clear_error(tmp_path, way):
    broken = MCPServerConfig(name="broken", command="definitely-not-a-command-xyz")
    async with mcp_proxy(tmp_path / "m.db", broken) as (proxy, _), httpx2.AsyncClient() as client:
        if way == "http":
            body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
            response = await client.post(proxy + "/mcp/broken", json=body)
        else:
            response = await client.get(proxy + "/mcp/broken/sse")
    assert response.status_code == 502 and "definitely-not-a-command-xyz" in response.text


async def test_tools_listed_across_pages_and_images_stored_as_metadata(tmp_path):
    db = tmp_path / "m.db"
    raw = wrap_params(db, "raw", "--", sys.executable, "-m", "tests.support.mcp_servers.rawserver")
    async with Client(raw, mode="legacy") as client:
        first = await client.list_tools()
        second = await client.list_tools(cursor=first.next_cursor)
        picture = await client.call_tool("picture", {})
    assert [t.name for t in first.tools + second.tools] == ["echo", "shout"]
    assert picture.content[0].data == "iVBORw0KGgo" * 100  # the client gets the bytes untouched
    (row,) = rows(db, "SELECT response FROM mcp_calls WHERE tool = 'picture'")
    stored = json.loads(row["response"])["result"]["content"][0]
    assert "data" not in stored and stored["mimeType"] == "image/png"
    assert stored["_tracemill"] == {"omitted": "data", "base64_chars": 1100, "bytes": 825}
    names = {r["name"] for r in rows(db, "SELECT name FROM tools JOIN server_tools USING (hash) WHERE server = 'raw'")}
    assert names == {"echo", "shout"}
