"""No parse error kills a session or the wrapper: deep JSON, 5,000-digit ids and batches are
relayed or refused with a JSON-RPC error, recorded raw with a note, and the next request works."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys

import httpx2

from tests.support.mcp_harness import ROOT, line_stdio, mcp_proxy
from tests.support.raw_mcp import INIT, RawMCP, call

DEEP = 2000
HUGE = "9" * 5000


def rows(db, sql, args=()):
    if hasattr(db, "rows"):  # a TestStore, on either backend
        return db.rows(sql, args)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return conn.execute(sql, args).fetchall()


async def test_a_deep_answer_is_relayed_and_the_session_goes_on(db):
    async with mcp_proxy(db, line_stdio("line")) as (url, app):
        async with httpx2.AsyncClient(timeout=10) as http:
            mcp = RawMCP(http, url + "/mcp/line")
            await mcp.initialize()
            (deep,) = await mcp.ask(call(1, "deep"))
            assert deep == '{"jsonrpc":"2.0","id":1,"result":' + "[" * DEEP + "]" * DEEP + "}"
            (echo,) = await mcp.ask(call(2, "echo", message="still here"))
            assert json.loads(echo)["result"]["content"][0]["text"] == "still here"
        await app.recorder.flush()
    (answer,) = rows(db, "SELECT * FROM mcp_messages WHERE direction = 's2c' AND rpc_id = '1'")
    assert answer["kind"] == "response" and answer["reply_to"] is not None and "too deep" in answer["note"]
    assert len(answer["body"]) == len(deep)  # stored raw, whole
    assert {r["tool"] for r in rows(db, "SELECT tool FROM mcp_calls")} == {"deep", "echo"}  # the view still reads


async def test_a_five_thousand_digit_id_is_not_refused_as_not_json(tmp_path):
    db = tmp_path / "m.db"
    async with mcp_proxy(db, line_stdio("line")) as (url, app):
        async with httpx2.AsyncClient(timeout=10) as http:
            for key in ("/mcp/line", "/s/k/mcp/line"):  # a session of its own, and the shared stateless channel
                mcp = RawMCP(http, url + key)
                if key == "/mcp/line":
                    await mcp.initialize()
                body = (
                    b'{"jsonrpc":"2.0","id":'
                    + HUGE.encode()
                    + b',"method":"tools/call","params":{"name":"echo","arguments":{"message":"big"}}}'
                )
                (answer,) = await mcp.ask(body)
                assert answer.startswith('{"jsonrpc": "2.0", "id": ' + HUGE + ",")  # restored byte for byte
                assert "tracemill-" not in answer and '"text": "big"' in answer
        await app.recorder.flush()
    asked = rows(db, "SELECT * FROM mcp_messages WHERE direction = 'c2s' AND method = 'tools/call'")
    assert len(asked) == 2 and all(r["rpc_id"] == HUGE and "too long" in r["note"] for r in asked)


async def test_a_batch_gets_a_clear_json_rpc_error_and_no_rewritten_ids(tmp_path):
    async with mcp_proxy(tmp_path / "m.db", line_stdio("line")) as (url, _app), httpx2.AsyncClient(timeout=5) as http:
        for key in ("/mcp/line", "/s/k/mcp/line"):
            mcp = RawMCP(http, url + key)
            if key == "/mcp/line":
                await mcp.initialize()
            response = await mcp.post(json.dumps([call(1, "echo", message="a"), call(2, "echo", message="b")]).encode())
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["code"] == -32600 and "batch" in error["message"] and "tracemill-" not in response.text
            (echo,) = await mcp.ask(call(3, "echo", message="after"))
            assert json.loads(echo)["id"] == 3


async def test_a_deep_line_from_the_ide_does_not_end_wrap(tmp_path):
    db = tmp_path / "m.db"
    server = line_stdio()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        "wrap",
        "--name",
        "line",
        "--db",
        str(db),
        "--",
        server.command,
        *server.args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdin and proc.stdout
    deep_request = (
        b'{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"echo","arguments":{"x":'
        + b"[" * DEEP
        + b"]" * DEEP
        + b"}}}"
    )
    for line in (
        json.dumps(INIT).encode(),
        deep_request,
        json.dumps(call(1, "deep")).encode(),
        json.dumps(call(2, "echo", message="alive")).encode(),
    ):
        proc.stdin.write(line + b"\n")
    await proc.stdin.drain()
    answers = [await asyncio.wait_for(proc.stdout.readline(), 10) for _ in range(3)]
    assert json.loads(answers[0])["id"] == 0
    assert answers[1].startswith(b'{"jsonrpc":"2.0","id":1,"result":[[[')  # relayed whole
    assert json.loads(answers[2])["result"]["content"][0]["text"] == "alive"
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    (asked,) = rows(db, "SELECT * FROM mcp_messages WHERE rpc_id = '\"deep\"' AND direction = 'c2s'")
    assert asked["kind"] == "request" and asked["method"] == "tools/call" and asked["note"]
