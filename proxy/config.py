"""Configuration: embedded defaults, then proxy.toml, then TRACEMILL_* variables, then flags.

A wrong key or value is reported by its dotted name, e.g. `llm.timeout: expected a number`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from proxy.config_values import ConfigError, coerce, expand
from proxy.mcp.server_config import MCPServerConfig, parse_mcp_server, secret_args

__all__ = [
    "Config",
    "ConfigError",
    "LLMConfig",
    "MCPServerConfig",
    "ServerConfig",
    "StoreConfig",
    "expand",
    "load",
    "parse_mcp_server",
    "secret_args",
]

DEFAULT_FILE = "proxy.toml"


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4000
    allowed_origins: list[str] = field(default_factory=list)  # browser origins besides loopback ones
    allowed_hosts: list[str] = field(default_factory=list)  # Host names besides loopback ones
    max_request_bytes: int = 64 * 1024 * 1024  # request bodies past this get 413
    max_header_bytes: int = 64 * 1024  # a request line plus headers past this gets 431
    header_timeout: float = 10.0  # seconds a client has to send its headers; then 408
    keep_alive: float = 30.0  # seconds an idle keep-alive connection stays open
    grace_seconds: float = 5.0  # on SIGTERM, seconds open requests get to finish


@dataclass
class LLMConfig:
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = ""  # env var whose value goes upstream when the client sends no key
    timeout: float = 600.0  # seconds to wait for the upstream's next bytes
    connect_timeout: float = 10.0
    capture_tokens: bool = False  # ask the upstream (vLLM) for the token ids it used; the client never sees them
    capture_logprobs: bool = False  # with capture_tokens: per-token logprobs too


@dataclass
class StoreConfig:
    path: str = "tracemill.db"  # the store: a SQLite file, or a postgresql:// URL (TRACEMILL_DB, --db)
    keep_raw: bool = False
    max_body_bytes: int = 64 * 1024 * 1024  # a body past this is stored cut there and flagged `body_truncated`
    max_queue_bytes: int = 256 * 1024 * 1024  # events waiting for the writer past this go to the spill file
    drain_seconds: float = 5.0  # at shutdown, seconds the writer gets before what is left is spilled
    url: str = ""  # in proxy.toml, a PostgreSQL store's URL; it becomes `path`, which env and flags override


@dataclass
class UIConfig:
    enabled: bool = True  # serve the viewer at /ui on the proxy's port
    token: str = ""  # required to turn the viewer on when the host is not a loopback address; then it asks for it
    export_dir: str = ""  # where the viewer's exports go (default: an `exports` folder next to the store)


@dataclass
class RedactConfig:
    patterns: list[str] = field(default_factory=list)  # extra regexes, masked everywhere
    secrets_env: list[str] = field(default_factory=list)  # env vars whose values are masked


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    redact: RedactConfig = field(default_factory=RedactConfig)
    ui: UIConfig = field(default_factory=UIConfig)
    mcp_servers: dict[str, MCPServerConfig] = field(default_factory=dict)
    source: str = "embedded defaults"
    mcp_errors: dict[str, str] = field(default_factory=dict)  # servers left out by a lenient load, and why

    def secrets(self) -> list[str]:
        """Every configured secret value, so the redactor can mask it inside bodies."""
        names = [self.llm.api_key_env, *self.redact.secrets_env]
        values = [os.environ.get(n, "") for n in names if n]
        for server in self.mcp_servers.values():
            values += server.secrets()
        return [v for v in values if v]


_SECTIONS = {"server": ServerConfig, "llm": LLMConfig, "store": StoreConfig, "redact": RedactConfig, "ui": UIConfig}
_ENV = {
    "TRACEMILL_HOST": ("server", "host"),
    "TRACEMILL_PORT": ("server", "port"),
    "TRACEMILL_UPSTREAM": ("llm", "base_url"),
    "TRACEMILL_LLM_BASE_URL": ("llm", "base_url"),  # the same key by its config name; applied later, so it wins
    "TRACEMILL_DB": ("store", "path"),
}


def load(path: str | os.PathLike[str] | None = None, *, lenient_mcp: bool = False, **overrides: Any) -> Config:
    """Build the config. `overrides` are dotted keys from flags, e.g. {"store.path": "x.db"}.
    `lenient_mcp`: an MCP server that cannot be read (an unset ${VAR}) is left out, its error kept in
    `mcp_errors`, instead of failing the whole load (`wrap` serves one server and needs only that one)."""
    config = Config()
    path = path or os.environ.get("TRACEMILL_CONFIG")  # the config file when no --config is given
    if path is None and Path(DEFAULT_FILE).exists():
        path = DEFAULT_FILE
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"{p}: no such config file")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from None
        _apply_file(config, data, str(p), lenient_mcp)
        config.source = str(p)
    for var, (section, key) in _ENV.items():
        if os.environ.get(var):
            _set(config, section, key, os.environ[var], f"${var}")
    for dotted, value in overrides.items():
        if value is not None:
            section, _, key = dotted.partition(".")
            _set(config, section, key, value, f"--{key.replace('_', '-')}")
    return config


def _apply_file(config: Config, data: dict[str, Any], where: str, lenient_mcp: bool = False) -> None:
    for section, table in data.items():
        if section == "finetune":
            continue  # read by `tracemill finetune` (finetune/train.py), not by the proxy
        if section == "mcp":
            _apply_mcp(config, table, where, lenient_mcp)
            continue
        if section not in _SECTIONS:
            known = ", ".join([*_SECTIONS, "mcp", "finetune"])
            raise ConfigError(f"{where}: unknown section [{section}] (known: {known})")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {section} must be a table")
        if section == "store" and "url" in table and "path" in table:
            raise ConfigError(f"{where}: [store] has both path and url; a store is one or the other")
        for key, value in table.items():
            _set(config, section, key, value, where)
        if section == "store" and table.get("url"):
            if not str(table["url"]).lower().startswith(("postgresql://", "postgres://")):
                raise ConfigError(
                    f"{where}: store.url must start with postgresql:// (a SQLite file goes in store.path)"
                )
            config.store.path = config.store.url


def _set(config: Config, section: str, key: str, value: Any, where: str) -> None:
    target = getattr(config, section)
    known = {f.name: f for f in fields(target)}
    if key not in known:
        raise ConfigError(f"{where}: unknown key {section}.{key} (known: {', '.join(known)})")
    setattr(target, key, coerce(value, type(getattr(target, key)), f"{section}.{key}", where))


def _apply_mcp(config: Config, table: Any, where: str, lenient: bool = False) -> None:
    if not isinstance(table, dict) or set(table) - {"servers"}:
        raise ConfigError(f"{where}: [mcp] holds only [mcp.servers.NAME] tables")
    for name, spec in (table.get("servers") or {}).items():
        try:
            config.mcp_servers[name] = parse_mcp_server(name, spec, where)
        except ConfigError as exc:
            if not lenient:
                raise
            config.mcp_errors[name] = str(exc)
