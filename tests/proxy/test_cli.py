"""The inspection commands and `serve` as a user runs them."""

from __future__ import annotations

import json

import httpx2
import pytest

from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from tests.support.cli import tm
from tests.support.serving import start_serve


async def test_serve_prints_where_it_listens_and_exchanges_lists_and_shows(tmp_path):
    db = tmp_path / "cli.db"
    async with running(ScriptedUpstream()) as up:
        proc, proxy = start_serve(db, up + "/v1")
        try:
            async with httpx2.AsyncClient() as client:
                await client.post(
                    proxy + "/s/cli/v1/chat/completions",
                    json={"model": "qwen", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]},
                )
        finally:
            proc.terminate()
            proc.wait(10)
    out = open(proc.log_path).read()
    assert f"listening on {proxy}/v1, forwarding to {up}/v1, recording to {db}" in out
    assert "POST /v1/chat/completions 200 qwen" in out  # one INFO line per exchange
    listed = tm("exchanges", "--db", str(db), "--json")
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["session"] == "cli" and row["summary"].startswith("→ lookup(")
    shown = tm("exchanges", "show", str(row["id"]), "--db", str(db))
    assert shown.returncode == 0 and "lookup" in shown.stdout and "The user asks: hi" in shown.stdout
    missing = tm("exchanges", "show", "999", "--db", str(db))
    assert missing.returncode == 1 and "no exchange 999" in missing.stderr


def test_missing_database_is_a_clear_error(tmp_path):
    result = tm("exchanges", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 1 and "no tracemill database" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_runs_offline_and_records(tmp_path):
    result = tm("demo", "--db", str(tmp_path / "demo.db"))
    assert result.returncode == 0, result.stderr
    assert "assistant calls get_weather(Tokyo)" in result.stdout and "Here is what I found" in result.stdout
