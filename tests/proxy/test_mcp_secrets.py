"""Secrets on the MCP side stay out of the store, the screen and error texts: every configured env
and header value whatever its name, user:password@ in a server URL, a pass_auth client's own token
echoed back, and what `mcp import` prints and writes (0600, ${VAR} references kept)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from typing import Any

import httpx2

from proxy.config import MCPServerConfig
from proxy.server import running
from tests.support.cli import tm
from tests.support.mcp_harness import ROOT, line_stdio, mcp_proxy
from tests.support.raw_mcp import INIT, RawMCP, call

PAT = "ghp_abcdefghijklmnop1234"  # a name no KEY/TOKEN/SECRET rule would catch: GITHUB_PAT
DB_PASSWORD = "s3cret-db-pass"
DATABASE_URL = f"postgres://app:{DB_PASSWORD}@db.internal/prod"


def stored(db) -> str:
    conn = sqlite3.connect(db)
    return "\n".join(r[0] for r in conn.execute("SELECT body FROM mcp_messages"))


async def test_every_env_value_is_masked_whatever_its_name(tmp_path):
    db = tmp_path / "m.db"
    server = line_stdio("line", env={"GITHUB_PAT": PAT, "DATABASE_URL": DATABASE_URL})
    async with (
        mcp_proxy(db, server) as (url, app),
        httpx2.AsyncClient(timeout=10) as http,
    ):
        mcp = RawMCP(http, url + "/mcp/line")
        await mcp.initialize()
        seen = [await mcp.ask(call(n, "env", name=name)) for n, name in enumerate(("GITHUB_PAT", "DATABASE_URL"))]
        seen.append(await mcp.ask(call(9, "echo", message=f"the password is {DB_PASSWORD}")))
        await app.recorder.flush()
    assert PAT in seen[0][0] and DATABASE_URL in seen[1][0]  # the client sees what the server sent
    text = stored(db)
    assert PAT not in text and DB_PASSWORD not in text and text.count("[REDACTED]") >= 4


async def echo_headers(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A streamable HTTP MCP server that answers every request with the headers it got."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body)
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    text = f"auth={headers.get('authorization')} custom={headers.get('x-custom-auth')}"
    answer = json.dumps(
        {"jsonrpc": "2.0", "id": request.get("id"), "result": {"content": [{"type": "text", "text": text}]}}
    )
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer.encode()})


async def test_configured_headers_and_a_pass_auth_clients_token_echoed_back_are_not_stored(tmp_path):
    db = tmp_path / "m.db"
    client_token = "client-own-token-7890"
    async with running(echo_headers) as upstream:
        server = MCPServerConfig(
            name="echo", url=upstream + "/mcp", headers={"X-Custom-Auth": "custom-value-123456"}, pass_auth=True
        )
        async with mcp_proxy(db, server) as (url, app), httpx2.AsyncClient(timeout=10) as http:
            answer = await http.post(
                url + "/mcp/echo",
                json=call(1, "whoami"),
                headers={"authorization": f"Bearer {client_token}", "accept": "application/json"},
            )
            await app.recorder.flush()
    assert client_token in answer.text and "custom-value-123456" in answer.text
    text = stored(db)
    assert client_token not in text and "custom-value-123456" not in text and "[REDACTED]" in text


def test_a_url_password_is_masked_in_mcp_servers_and_its_errors(tmp_path):
    toml = tmp_path / "proxy.toml"
    toml.write_text('[mcp.servers.remote]\nurl = "http://alice:hunter2-pass@127.0.0.1:9/mcp?api_key=qs-secret-value"\n')
    for flags in ((), ("--json",)):
        cmd = [sys.executable, "-m", "proxy", "mcp", "servers", *flags, "--config", str(toml)]
        env = {**os.environ, "COLUMNS": "400"}  # a wide table: nothing cut or wrapped away
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
        shown = out.stdout + out.stderr
        assert "127.0.0.1:9/mcp" in shown and "[REDACTED]" in shown  # the target is shown, its secrets are not
        assert "hunter2-pass" not in shown and "qs-secret-value" not in shown


def test_wrap_masks_the_secrets_of_the_config_serve_uses(tmp_path, monkeypatch):
    toml = tmp_path / "conf" / "proxy.toml"
    toml.parent.mkdir()
    toml.write_text(
        f'[mcp.servers.line]\ncommand = "unused"\nenv = {{ GITHUB_PAT = "{PAT}" }}\n\n'
        '[mcp.servers.other]\nurl = "http://127.0.0.1:9/mcp"\n'
        'headers = { Authorization = "Bearer ${UNSET_ELSEWHERE}" }\n'
    )
    server = line_stdio()
    for how in ("--config", "TRACEMILL_CONFIG"):
        db = tmp_path / f"{how}.db"
        flags = ["--config", str(toml)] if how == "--config" else []
        # the child is started from tmp_path: it finds the test server through PYTHONPATH
        env = {**os.environ, "PYTHONPATH": str(ROOT), **({"TRACEMILL_CONFIG": str(toml)} if how != "--config" else {})}
        cmd = [
            sys.executable,
            "-m",
            "proxy",
            "wrap",
            "--name",
            "line",
            *flags,
            "--db",
            str(db),
            "--",
            server.command,
            *server.args,
        ]
        lines = [json.dumps(INIT), json.dumps(call(1, "env", name="GITHUB_PAT"))]
        done = subprocess.run(
            cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert PAT in done.stdout  # the server got its env from the config, and the client its answer
        assert PAT not in stored(db) and "[REDACTED]" in stored(db)


def test_mcp_import_prints_masked_and_writes_private_files_that_wrap_then_uses(tmp_path):
    client_cfg = tmp_path / "mcp.json"
    server = line_stdio()
    client_cfg.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "line": {
                        "command": server.command,
                        "args": server.args,
                        "env": {"GITHUB_PAT": PAT, "PYTHONPATH": str(ROOT)},
                    },
                    "remote": {
                        "url": "https://bob:remote-pass-999@example.com/mcp",
                        "headers": {"Authorization": "Bearer ${env:REMOTE_TOKEN}"},
                    },
                }
            }
        )
    )
    toml = tmp_path / "proxy.toml"
    common = ["--config", str(toml), "--db", str(tmp_path / "t.db")]
    shown = tm("mcp", "import", str(client_cfg), *common, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert PAT not in shown.stdout and "remote-pass-999" not in shown.stdout and "[REDACTED]" in shown.stdout
    assert "${REMOTE_TOKEN}" in shown.stdout  # a reference is no secret: shown, and kept as ${VAR}
    umask_022 = dict(preexec_fn=lambda: os.umask(0o022))
    cmd = [sys.executable, "-m", "proxy", "mcp", "import", str(client_cfg), "--write", *common]
    wrote = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60, **umask_022)
    assert wrote.returncode == 0, wrote.stderr
    for path in (toml, client_cfg, tmp_path / "mcp.json.bak"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert '"Authorization" = "Bearer ${REMOTE_TOKEN}"' in toml.read_text()
    # The IDE starts the rewritten command from anywhere; wrap finds the config and masks the PAT.
    spec = json.loads(client_cfg.read_text())["mcpServers"]["line"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lines = [json.dumps(INIT), json.dumps(call(1, "env", name="GITHUB_PAT"))]
    env = {**os.environ, **spec["env"], "REMOTE_TOKEN": "set-by-the-ide"}
    cmd = [sys.executable, "-m", "proxy", *spec["args"]]
    done = subprocess.run(
        cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert PAT in done.stdout and PAT not in stored(tmp_path / "t.db")


def test_config_secrets_cover_env_headers_url_and_flag_values(monkeypatch):
    from proxy.config import Config, expand

    server = MCPServerConfig(
        name="s",
        command="srv",
        args=["--api-key", "arg-secret-1", "--token=arg-secret-2", "--verbose", "plain"],
        env={"GITHUB_PAT": PAT, "DATABASE_URL": DATABASE_URL, "SHORT": "x"},
        headers={"X-Anything": "Bearer hdr-secret-123"},
    )
    remote = MCPServerConfig(name="r", url="https://u:url-pass-1234@h/mcp?key=query-secret")
    secrets = set(Config(mcp_servers={"s": server, "r": remote}).secrets())
    assert {
        PAT,
        DATABASE_URL,
        DB_PASSWORD,
        "arg-secret-1",
        "arg-secret-2",
        "hdr-secret-123",
        "url-pass-1234",
        "query-secret",
    } <= secrets
    assert "plain" not in secrets
    assert server.target() == "srv --api-key [REDACTED] --token=[REDACTED] --verbose plain"
    assert remote.target() == "https://[REDACTED]@h/mcp?key=[REDACTED]"
    monkeypatch.delenv("NOPE", raising=False)
    assert expand("${NOPE:-fallback}") == "fallback"
