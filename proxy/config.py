"""Configuration: embedded defaults, then proxy.toml, then TRACEMILL_* variables, then flags.

A wrong key or value is reported by its dotted name, e.g. `llm.timeout: expected a number`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_FILE = "proxy.toml"


class ConfigError(ValueError):
    """A config problem, phrased for the user; the CLI prints it without a traceback."""


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
    path: str = "tracemill.db"
    keep_raw: bool = False
    max_body_bytes: int = 64 * 1024 * 1024  # a body past this is stored cut there and flagged `body_truncated`
    max_queue_bytes: int = 256 * 1024 * 1024  # events waiting for the writer past this go to the spill file
    drain_seconds: float = 5.0  # at shutdown, seconds the writer gets before what is left is spilled


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
class MCPServerConfig:
    name: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    transport: str = "http"  # for url servers: "http" (streamable) or "sse" (legacy)
    headers: dict[str, str] = field(default_factory=dict)
    pass_auth: bool = False
    max_sessions: int = 32  # upstream sessions (each a child for stdio) at once, shared channels included
    idle_seconds: float = 3600.0  # a session with no request and no open stream this long is closed
    backlog_bytes: int = 4 * 1024 * 1024  # per session: messages held for a client not reading yet

    @property
    def kind(self) -> str:
        return "stdio" if self.command else self.transport

    def target(self) -> str:
        """What it runs or reaches, fit to print: URL secrets and secret flag values masked."""
        from recorder.ingest.redact import MASK, mask_url

        if self.url:
            return mask_url(self.url)
        hidden = set(secret_args(self.args))

        def shown(arg: str) -> str:
            name, eq, value = arg.partition("=")
            return MASK if arg in hidden else name + "=" + MASK if eq and value in hidden else arg

        return " ".join([self.command or "", *map(shown, self.args)])

    def secrets(self) -> list[str]:
        """Every value of its env and headers whatever the name (the redactor skips those under 8
        characters), what its url and env URLs carry (user:password@, ?key=), and flag values in
        its args such as `--token X`."""
        from recorder.ingest.redact import bearer_value, url_secrets

        values = [*self.env.values(), *secret_args(self.args)]
        values += [u for v in self.env.values() if "://" in v for u in url_secrets(v)]
        values += [part for v in self.headers.values() for part in (v, bearer_value(v))]
        if self.url:
            values += url_secrets(self.url)
        return [v for v in values if v]


_SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|passw|auth|credential)[\w-]*$", re.IGNORECASE)


def secret_args(args: list[str]) -> list[str]:
    """Values given to secret-looking flags: `--api-key X`, `--token=X`."""
    found = []
    for n, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if _SECRET_FLAG.match(name):
            if eq:
                found.append(value)
            elif n + 1 < len(args) and not args[n + 1].startswith("-"):
                found.append(args[n + 1])
    return found


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
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join([*_SECTIONS, 'mcp', 'finetune'])})")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {section} must be a table")
        for key, value in table.items():
            _set(config, section, key, value, where)


def _set(config: Config, section: str, key: str, value: Any, where: str) -> None:
    target = getattr(config, section)
    known = {f.name: f for f in fields(target)}
    if key not in known:
        raise ConfigError(f"{where}: unknown key {section}.{key} (known: {', '.join(known)})")
    setattr(target, key, _coerce(value, type(getattr(target, key)), f"{section}.{key}", where))


def _coerce(value: Any, kind: type, name: str, where: str) -> Any:
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError
                return value.lower() in ("1", "true", "yes")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind in (int, float):
            if isinstance(value, bool):
                raise ValueError
            return kind(value)
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return value
        if kind is str and not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} expected {kind.__name__}, got {value!r}") from None


_SERVER_KEYS = {f.name for f in fields(MCPServerConfig)} - {"name"}


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


def parse_mcp_server(name: str, spec: Any, where: str = "config") -> MCPServerConfig:
    label = f"mcp.servers.{name}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"{where}: {label}: a server name uses letters, digits, '.', '_' and '-'")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: {label} must be a table")
    unknown = set(spec) - _SERVER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {label}.{sorted(unknown)[0]} (known: {', '.join(sorted(_SERVER_KEYS))})")
    if not spec.get("command") and not spec.get("url"):
        raise ConfigError(f"{where}: {label} needs either command (stdio) or url (HTTP or SSE)")
    if spec.get("command") and spec.get("url"):
        raise ConfigError(f"{where}: {label} has both command and url; choose one")
    if spec.get("transport", "http") not in ("http", "sse"):
        raise ConfigError(f"{where}: {label}.transport must be 'http' or 'sse'")
    server = MCPServerConfig(name=name)
    for key, value in spec.items():
        default = getattr(server, key)
        kind = type(default) if default is not None else str
        if kind is dict:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{where}: {label}.{key} must be a table of strings")
            value = {k: expand(v) for k, v in value.items()}
        else:
            value = _coerce(value, kind, f"{label}.{key}", where)
        if isinstance(value, str):
            value = expand(value)
        elif isinstance(value, list):
            value = [expand(v) for v in value]
        setattr(server, key, value)
    for key in ("max_sessions", "idle_seconds", "backlog_bytes"):
        if getattr(server, key) <= 0:
            raise ConfigError(f"{where}: {label}.{key} must be more than 0")
    return server


VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str) -> str:
    """`${VAR}` (or `${VAR:-default}`) from the environment; an unset variable without a default is
    an error, not an empty string."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"${{{name}}} is used in the config but not set in the environment")

    return VAR_REF.sub(one, text)
