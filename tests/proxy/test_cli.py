"""The inspection commands and `serve` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from recorder.store.location import masked
from tests.support.cli import tm
from tests.support.export_data import workshop_trace
from tests.support.serving import free_port, start_serve
from tests.support.stores import PASSWORD


async def test_serve_prints_where_it_listens_and_exchanges_lists_and_shows(db):
    async with running(ScriptedUpstream()) as up:
        proc, proxy = start_serve(db, up + "/v1")
        try:
            async with httpx2.AsyncClient() as client:
                await client.post(
                    proxy + "/s/cli/v1/chat/completions",
                    json={
                        "model": "qwen",
                        "messages": [{"role": "user", "content": "hi"}],
                        "tools": [
                            {
                                "type": "function",
                                "function": {
                                    "name": "lookup",
                                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                                },
                            }
                        ],
                    },
                )
        finally:
            proc.terminate()
            proc.wait(10)
    out = Path(proc.log_path).read_text()
    store = f"PostgreSQL {masked(str(db))}" if db.is_postgres else str(db)
    assert f"listening on {proxy}/v1, forwarding to {up}/v1, recording to {store}" in out
    assert PASSWORD not in out
    assert f"viewer at {proxy}/ui/" in out
    assert "POST /v1/chat/completions 200 qwen" in out  # one INFO line per exchange
    listed = tm("exchanges", "--db", str(db), "--json")
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["session"] == "cli" and row["summary"].startswith("→ lookup(")
    shown = tm("exchanges", "show", str(row["id"]), "--db", str(db))
    assert shown.returncode == 0 and "lookup" in shown.stdout and "The user asks: hi" in shown.stdout
    missing = tm("exchanges", "show", "999", "--db", str(db))
    assert missing.returncode == 1 and "no exchange 999" in missing.stderr
    assert PASSWORD not in listed.stdout + listed.stderr + shown.stdout + shown.stderr


def test_missing_database_is_a_clear_error(tmp_path):
    result = tm("exchanges", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 1 and "no tracemill database" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_runs_offline_and_records(tmp_path):
    result = tm("demo", "--db", str(tmp_path / "demo.db"))
    assert result.returncode == 0, result.stderr
    assert "assistant calls get_weather(Tokyo)" in result.stdout and "Here is what I found" in result.stdout
    assert result.stdout.count("⇄ MCP weather") == 2  # each tool call went through the built-in MCP server, linked
    row = json.loads(result.stdout[result.stdout.index("\n{", result.stdout.index("training rows")) :])
    assert row["id"] == "1#1" and row["messages"][-1]["tool_calls"][0]["function"]["name"] == "get_weather"
    calls = [
        json.loads(line) for line in tm("mcp", "calls", "--db", str(tmp_path / "demo.db"), "--json").stdout.splitlines()
    ]
    assert sorted(c["summary"] for c in calls) == ["18°C, light rain", "24°C, clear"] and {
        c["server"] for c in calls
    } == {"weather"}
    every = tm("demo", "--dialect", "all", "--db", str(tmp_path / "all.db"))
    assert every.returncode == 0, every.stderr
    assert all(f"{name}:" in every.stdout for name in ("Chat Completions", "Responses", "Anthropic Messages"))
    listed = [
        json.loads(line)
        for line in tm("traces", "list", "--json", "--db", str(tmp_path / "all.db")).stdout.splitlines()
    ]
    assert len(listed) == 3 and all(e["turns"] == 2 for e in listed)
    assert every.stdout.count("⇄ MCP weather") == 1  # the anthropic episode, its tool call linked to the MCP call


@pytest.mark.slow
def test_demo_ui_keeps_serving_the_viewer_on_its_store(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "demo", "--ui", "--port", str(port), "--db", str(tmp_path / "d.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:  # type: ignore[union-attr]
            if "tracemill viewer on the demo's store" in line or time.monotonic() > deadline:
                break
        assert f"http://127.0.0.1:{port}/ui/" in line
        page = httpx2.get(f"http://127.0.0.1:{port}/ui/episodes/1", timeout=10)
        assert page.status_code == 200 and "⇄ MCP <b>weather</b>" in page.text
    finally:
        proc.terminate()
        proc.wait(10)


def test_ui_serves_the_viewer_alone_and_a_missing_store_is_one_line(tmp_path):
    assert "no tracemill database" in tm("ui", "--db", str(tmp_path / "none.db")).stderr
    db = tmp_path / "x.db"
    assert tm("import", "--db", str(db), str(workshop_trace(tmp_path))).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "ui", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert f"tracemill viewer at http://127.0.0.1:{port}/ui/, reading {db}" in line
        deadline = time.monotonic() + 20
        while True:
            try:
                home = httpx2.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert home.status_code == 307 and home.headers["location"] == "/ui/"
        listing = httpx2.get(f"http://127.0.0.1:{port}/ui/episodes", timeout=10)
        assert listing.status_code == 200 and "open example.com" in listing.text
    finally:
        proc.terminate()
        proc.wait(10)
