"""One `[mcp.servers.NAME]` table: what it runs or reaches, its limits, its secrets, and its parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from proxy.config_values import ConfigError, coerce, expand


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


_SERVER_KEYS = {f.name for f in fields(MCPServerConfig)} - {"name"}


def parse_mcp_server(name: str, spec: Any, where: str = "config") -> MCPServerConfig:
    label = f"mcp.servers.{name}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"{where}: {label}: a server name uses letters, digits, '.', '_' and '-'")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: {label} must be a table")
    unknown = set(spec) - _SERVER_KEYS
    if unknown:
        known = ", ".join(sorted(_SERVER_KEYS))
        raise ConfigError(f"{where}: unknown key {label}.{sorted(unknown)[0]} (known: {known})")
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
            value = coerce(value, kind, f"{label}.{key}", where)
        if isinstance(value, str):
            value = expand(value)
        elif isinstance(value, list):
            value = [expand(v) for v in value]
        setattr(server, key, value)
    for key in ("max_sessions", "idle_seconds", "backlog_bytes"):
        if getattr(server, key) <= 0:
            raise ConfigError(f"{where}: {label}.{key} must be more than 0")
    return server
