from __future__ import annotations

import subprocess
import sys

import pytest

from proxy.config import ConfigError, load


def test_defaults_file_env_and_flags_layer(tmp_path, monkeypatch):
    cfg = tmp_path / "p.toml"
    cfg.write_text('[llm]\nbase_url = "http://file/v1"\n[server]\nport = 5000\n')
    monkeypatch.setenv("TRACEMILL_PORT", "6000")
    config = load(cfg, **{"llm.base_url": "http://flag/v1"})
    assert config.llm.base_url == "http://flag/v1"
    assert config.server.port == 6000 and config.server.host == "127.0.0.1"


def test_the_config_file_and_the_upstream_can_come_from_the_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text("[server]\nport = 5001\n")
    monkeypatch.setenv("TRACEMILL_CONFIG", str(cfg))
    monkeypatch.setenv("TRACEMILL_UPSTREAM", "http://upstream/v1")
    assert load().server.port == 5001 and load().source == str(cfg)
    assert load().llm.base_url == "http://upstream/v1"
    monkeypatch.setenv("TRACEMILL_LLM_BASE_URL", "http://alias/v1")  # the same key under its config name: it wins
    assert load().llm.base_url == "http://alias/v1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[llm]\nbase_ur = "x"\n', "unknown key llm.base_ur"),
        ("[server]\nport = 'abc'\n", "server.port expected int"),
        ("[nope]\n", "unknown section [nope]"),
        ("[llm\n", "not valid TOML"),
        ("[mcp.servers.x]\nargs = []\n", "mcp.servers.x needs either command"),
        ('[mcp.servers.x]\ncommand = "a"\ncolour = 1\n', "unknown key mcp.servers.x.colour"),
        ('[mcp.servers.x]\nurl = "http://h/${NOT_SET_ANYWHERE}"\n', "${NOT_SET_ANYWHERE}"),
    ],
)
def test_broken_config_names_the_key(tmp_path, text, message):
    cfg = tmp_path / "p.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(cfg)
    assert message in str(info.value)


def test_cli_reports_config_errors_without_traceback(tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text("[store]\npath = 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "--config", str(cfg), "exchanges"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "store.path expected str" in result.stderr and "Traceback" not in result.stderr


def test_the_shipped_proxy_toml_loads():
    config = load("proxy.toml")
    assert config.llm.base_url == "http://127.0.0.1:8000/v1" and config.server.port == 4000


def test_a_postgresql_url_in_the_file_is_the_store_and_env_and_flags_still_win(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACEMILL_DB", raising=False)
    cfg = tmp_path / "p.toml"
    cfg.write_text('[store]\nurl = "postgresql://team@db.example:5432/traces"\nkeep_raw = true\n')
    assert load(cfg).store.path == "postgresql://team@db.example:5432/traces"
    monkeypatch.setenv("TRACEMILL_DB", "postgresql://other@db.example/traces")
    assert load(cfg).store.path == "postgresql://other@db.example/traces"
    assert load(cfg, **{"store.path": "local.db"}).store.path == "local.db"  # --db
    cfg.write_text('[store]\nurl = "postgresql://a@b/c"\npath = "x.db"\n')
    with pytest.raises(ConfigError, match="both path and url"):
        load(cfg)
    cfg.write_text('[store]\nurl = "traces.db"\n')
    with pytest.raises(ConfigError, match=r"store\.url must start with postgresql://"):
        load(cfg)
