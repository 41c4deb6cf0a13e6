"""`tracemill mcp import`: read a client's MCP config (Claude Desktop, Claude Code, Cursor: the
`mcpServers` key; VS Code: `servers`) and produce the proxy.toml section plus the same client
config pointed at tracemill: stdio servers through `tracemill wrap`, URL servers through /mcp."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from proxy.config import ConfigError, secret_args
from recorder.ingest.redact import MASK, mask_url


def read_client_config(path: Path) -> tuple[dict[str, Any], str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read it as JSON ({exc})") from None
    for key in ("mcpServers", "servers"):
        if isinstance(data.get(key), dict):
            return data, key
    raise ConfigError(f"{path}: no 'mcpServers' or 'servers' object; is this an MCP client config?")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)


def _is_ours(spec: dict[str, Any]) -> bool:
    return Path(str(spec.get("command", ""))).name == "tracemill" or (
        "/mcp/" in str(spec.get("url", "")) and "127.0.0.1" in str(spec.get("url", ""))
    )


_CLIENT_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")  # VS Code and Cursor spell ${VAR} so


def _as_toml_refs(value: Any) -> Any:
    """Environment references kept as references: `${env:VAR}` becomes our `${VAR}`."""
    if isinstance(value, str):
        return _CLIENT_REF.sub(r"${\1}", value)
    if isinstance(value, list):
        return [_as_toml_refs(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_toml_refs(v) for k, v in value.items()}
    return value


def _shown(value: str) -> str:
    """A value as printed: masked unless it is short or keeps its secret in a ${…} reference."""
    return value if "${" in value or len(value) < 8 else MASK


def masked(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The client config with every env and header value, URL secret and secret flag value masked,
    for printing."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    for spec in out[key].values():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("env"), dict):
            spec["env"] = {k: _shown(str(v)) for k, v in spec["env"].items()}
        if isinstance(spec.get("headers"), dict):
            spec["headers"] = {k: _mask_header(str(v)) for k, v in spec["headers"].items()}
        if isinstance(spec.get("url"), str):
            spec["url"] = mask_url(spec["url"])
        if isinstance(spec.get("args"), list):
            hidden = set(secret_args([str(a) for a in spec["args"]]))
            spec["args"] = [_mask_arg(str(a), hidden) for a in spec["args"]]
    return out


def _mask_header(value: str) -> str:
    scheme, space, rest = value.partition(" ")
    if space and scheme.lower() in ("bearer", "basic", "token"):
        return scheme + " " + _shown(rest)
    return _shown(value)


def _mask_arg(arg: str, hidden: set[str]) -> str:
    name, eq, value = arg.partition("=")
    if eq and value in hidden:
        return name + "=" + _shown(value)
    return _shown(arg) if arg in hidden else arg


def convert(
    data: dict[str, Any], key: str, proxy_url: str, db: str, config: str | None = None
) -> tuple[str, dict[str, Any], list[str]]:
    """Returns (proxy.toml text, rewritten client config, names skipped as already wrapped).
    `config`: the proxy.toml the wrapped servers are to read (`wrap --config`), so `wrap` masks
    their secrets wherever the IDE starts it."""
    sections: list[str] = []
    rewritten = json.loads(json.dumps(data))
    skipped = []
    tracemill = shutil.which("tracemill") or "tracemill"
    for name, spec in data[key].items():
        if not isinstance(spec, dict) or _is_ours(spec):
            skipped.append(name)
            continue
        lines = [f"[mcp.servers.{name}]"]
        kind = spec.get("type") or ("stdio" if spec.get("command") else "http")
        if spec.get("command"):
            lines.append(f"command = {_toml_value(spec['command'])}")
            if spec.get("args"):
                lines.append(f"args = {_toml_value(_as_toml_refs(spec['args']))}")
            if spec.get("env"):
                lines.append(f"env = {_toml_value(_as_toml_refs(spec['env']))}")
            if spec.get("cwd"):
                lines.append(f"cwd = {_toml_value(spec['cwd'])}")
            new = {k: v for k, v in spec.items() if k not in ("command", "args")}
            new["command"] = tracemill
            flags = ["--config", config] if config else []
            new["args"] = ["wrap", "--name", name, *flags, "--db", db, "--", spec["command"], *spec.get("args", [])]
        else:
            lines.append(f"url = {_toml_value(_as_toml_refs(spec['url']))}")
            if kind == "sse":
                lines.append('transport = "sse"')
            if spec.get("headers"):
                lines.append(f"headers = {_toml_value(_as_toml_refs(spec['headers']))}")
            new = {k: v for k, v in spec.items() if k != "headers"}
            new["url"] = f"{proxy_url}/mcp/{name}" + ("/sse" if kind == "sse" else "")
        rewritten[key][name] = new
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + ("\n" if sections else ""), rewritten, skipped


def write(path: Path, rewritten: dict[str, Any], toml_path: Path, toml_text: str) -> list[str]:
    """Write both files, each with a .bak of what was there, all 0600 (they hold tokens);
    returns what was written."""
    done = []
    _private_copy(path, path.with_name(path.name + ".bak"))
    _write_private(path, json.dumps(rewritten, indent=2) + "\n")
    done.append(f"{path} (backup: {path.name}.bak)")
    if toml_text:
        if toml_path.exists():
            _private_copy(toml_path, toml_path.with_name(toml_path.name + ".bak"))
            existing = toml_path.read_text()
        else:
            existing = ""
        _write_private(toml_path, existing.rstrip("\n") + ("\n\n" if existing else "") + toml_text)
        done.append(f"{toml_path}" + (f" (backup: {toml_path.name}.bak)" if existing else ""))
    return done


def _write_private(path: Path, text: str) -> None:
    """Readable by the owner only, whatever the umask, and never briefly wider."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT; tighten it
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _private_copy(source: Path, target: Path) -> None:
    _write_private(target, source.read_text())
