"""`tracemill mcp import`: read a client's MCP config (Claude Desktop, Claude Code, Cursor: the
`mcpServers` key; VS Code: `servers`) and produce the proxy.toml section plus the same client
config pointed at tracemill: stdio servers through `tracemill wrap`, URL servers through /mcp."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from proxy.config import ConfigError


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
    return Path(str(spec.get("command", ""))).name == "tracemill" or "/mcp/" in str(spec.get("url", "")) and "127.0.0.1" in str(spec.get("url", ""))


def convert(data: dict[str, Any], key: str, proxy_url: str, db: str) -> tuple[str, dict[str, Any], list[str]]:
    """Returns (proxy.toml text, rewritten client config, names skipped as already wrapped)."""
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
                lines.append(f"args = {_toml_value(spec['args'])}")
            if spec.get("env"):
                lines.append(f"env = {_toml_value(spec['env'])}")
            if spec.get("cwd"):
                lines.append(f"cwd = {_toml_value(spec['cwd'])}")
            new = {k: v for k, v in spec.items() if k not in ("command", "args")}
            new["command"] = tracemill
            new["args"] = ["wrap", "--name", name, "--db", db, "--", spec["command"], *spec.get("args", [])]
        else:
            lines.append(f"url = {_toml_value(spec['url'])}")
            if kind == "sse":
                lines.append('transport = "sse"')
            if spec.get("headers"):
                lines.append(f"headers = {_toml_value(spec['headers'])}")
            new = {k: v for k, v in spec.items() if k != "headers"}
            new["url"] = f"{proxy_url}/mcp/{name}" + ("/sse" if kind == "sse" else "")
        rewritten[key][name] = new
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + ("\n" if sections else ""), rewritten, skipped


def write(path: Path, rewritten: dict[str, Any], toml_path: Path, toml_text: str) -> list[str]:
    """Write both files, each with a .bak of what was there; returns what was written."""
    done = []
    shutil.copy2(path, path.with_name(path.name + ".bak"))
    path.write_text(json.dumps(rewritten, indent=2) + "\n")
    done.append(f"{path} (backup: {path.name}.bak)")
    if toml_text:
        if toml_path.exists():
            shutil.copy2(toml_path, toml_path.with_name(toml_path.name + ".bak"))
            existing = toml_path.read_text()
        else:
            existing = ""
        toml_path.write_text(existing.rstrip("\n") + ("\n\n" if existing else "") + toml_text)
        done.append(f"{toml_path}" + (f" (backup: {toml_path.name}.bak)" if existing else ""))
    return done
