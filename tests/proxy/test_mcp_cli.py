"""`tracemill mcp import | servers | calls` as a user runs them."""

from __future__ import annotations

import json
import sys

import pytest
from mcp import Client

from tests.support.cli import tm
from tests.support.mcp_harness import ROOT, wrap_params


def test_import_prints_without_writing_then_writes_with_backups(tmp_path, monkeypatch):
    client_cfg = tmp_path / "claude_desktop_config.json"
    original = {
        "mcpServers": {
            "everything": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-everything"],
                "env": {"A": "1"},
            },
            "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        },
        "other": True,
    }
    client_cfg.write_text(json.dumps(original))
    toml = tmp_path / "proxy.toml"
    toml.write_text("[server]\nport = 4000\n")
    dry = tm("mcp", "import", str(client_cfg), "--config", str(toml), "--db", str(tmp_path / "t.db"), cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "[mcp.servers.everything]" in dry.stdout and '"http://127.0.0.1:4000/mcp/remote"' in dry.stdout
    assert json.loads(client_cfg.read_text()) == original  # nothing written
    wrote = tm(
        "mcp", "import", str(client_cfg), "--write", "--config", str(toml), "--db", str(tmp_path / "t.db"), cwd=tmp_path
    )
    assert wrote.returncode == 0, wrote.stderr
    assert json.loads((tmp_path / "claude_desktop_config.json.bak").read_text()) == original
    new = json.loads(client_cfg.read_text())
    assert new["other"] is True
    assert new["mcpServers"]["everything"]["args"][:3] == ["wrap", "--name", "everything"]
    assert new["mcpServers"]["everything"]["args"][-4:] == [
        "--",
        "npx",
        "-y",
        "@modelcontextprotocol/server-everything",
    ]
    assert new["mcpServers"]["everything"]["env"] == {"A": "1"}
    assert new["mcpServers"]["remote"] == {"url": "http://127.0.0.1:4000/mcp/remote"}
    text = toml.read_text()
    assert text.startswith("[server]\nport = 4000\n") and (tmp_path / "proxy.toml.bak").exists()
    assert '[mcp.servers.remote]\nurl = "https://example.com/mcp"' in text and "${TOKEN}" in text
    unset = tm("mcp", "import", str(client_cfg), "--config", str(toml), cwd=tmp_path)
    assert "${TOKEN} is used in the config but not set" in unset.stderr
    monkeypatch.setenv("TOKEN", "t0ken-value")
    again = tm("mcp", "import", str(client_cfg), "--config", str(toml), cwd=tmp_path)
    assert "already pointing at tracemill" in again.stderr


def test_import_reads_vscode_servers_key(tmp_path):
    cfg = tmp_path / "mcp.json"
    cfg.write_text(json.dumps({"servers": {"legacy": {"type": "sse", "url": "http://h/sse"}}}))
    out = tm("mcp", "import", str(cfg), "--db", str(tmp_path / "t.db"), cwd=tmp_path)
    assert 'transport = "sse"' in out.stdout and "/mcp/legacy/sse" in out.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert "no 'mcpServers' or 'servers'" in tm("mcp", "import", str(bad), cwd=tmp_path).stderr


@pytest.mark.slow
def test_servers_probe_reports_reachability_and_tool_counts(tmp_path):
    toml = tmp_path / "proxy.toml"
    toml.write_text(
        f'[mcp.servers.py]\ncommand = "{sys.executable}"\nargs = ["-m", "tests.support.mcp_servers.pyserver", "stdio"]\ncwd = "{ROOT}"\n'
        '[mcp.servers.gone]\nurl = "http://127.0.0.1:9/mcp"\n'
    )
    out = tm("mcp", "servers", "--json", "--config", str(toml))
    assert out.returncode == 0, out.stderr
    by_name = {r["name"]: r for r in json.loads(out.stdout)}
    assert by_name["py"]["reachable"] and by_name["py"]["tools"] == 6
    assert not by_name["gone"]["reachable"] and "cannot reach http://127.0.0.1:9/mcp" in by_name["gone"]["error"]


@pytest.mark.slow
async def test_calls_lists_arguments_results_and_latency(db):
    config_args = ["--", sys.executable, "-m", "tests.support.mcp_servers.pyserver", "stdio"]
    async with Client(wrap_params(db, "py", *config_args), mode="legacy") as client:
        await client.call_tool("get-sum", {"a": 1, "b": 2})
    out = tm("mcp", "calls", "--db", str(db), "--json")
    (call,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert call["tool"] == "get-sum" and call["arguments"] == {"a": 1, "b": 2}
    assert call["summary"] == "The sum of 1.0 and 2.0 is 3.0." and call["latency_ms"] > 0
    table = tm("mcp", "calls", "--db", str(db), "--server", "py")
    assert "get-sum" in table.stdout
