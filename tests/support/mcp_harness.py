"""MCP test plumbing: the Python test server on each transport, the proxy in front, one scenario."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import StdioServerParameters

from proxy.app import App
from proxy.config import Config, MCPServerConfig
from proxy.server import running, uvicorn_config
from tests.support.procs import stop_group

ROOT = Path(__file__).resolve().parent.parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EVERYTHING = ["npx", "-y", "@modelcontextprotocol/server-everything"]


def need_npx() -> None:
    """npm-based tests skip locally without npx, but fail under CI so they cannot vanish."""
    if shutil.which("npx") is None:
        if IN_CI:
            pytest.fail("npx is required under CI for the server-everything tests")
        pytest.skip("npx is not installed")


def py_stdio(name: str = "py") -> MCPServerConfig:
    return MCPServerConfig(
        name=name, command=sys.executable, args=["-m", "tests.support.mcp_servers.pyserver", "stdio"], cwd=str(ROOT)
    )


def everything_stdio(name: str = "everything") -> MCPServerConfig:
    return MCPServerConfig(name=name, command=EVERYTHING[0], args=EVERYTHING[1:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listened on {port}")


@asynccontextmanager
async def http_server(cmd: list[str], path: str) -> AsyncIterator[str]:
    """A real MCP server process on HTTP (streamable or SSE); yields its URL."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    proc = subprocess.Popen(
        [*cmd, str(port)] if "pyserver" in " ".join(cmd) else cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        await wait_port(port, proc)
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        stop_group(proc)  # the whole group: a launcher's children must not outlive the test


def py_http_cmd(kind: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.mcp_servers.pyserver", kind]


@asynccontextmanager
async def mcp_proxy(db: Path | Any, *servers: MCPServerConfig) -> AsyncIterator[tuple[str, App]]:
    config = Config()
    config.store.path = str(db)
    config.server.port = 0
    config.mcp_servers = {s.name: s for s in servers}
    app = App(config)
    async with running(app, uvicorn_config(app, config)) as url:
        yield url, app


async def scenario(
    client: Any, *, elicit_tool: str | None = "ask-color", long_tool: str = "trigger-long-running-operation"
) -> dict[str, Any]:
    """The acceptance walk: tools across pages, echo, get-sum, a resource, a prompt, progress,
    and a server-initiated question. Returns what the client saw, for direct-vs-proxy equality."""
    seen: dict[str, Any] = {}
    tools, cursor = [], None
    while True:
        page = await client.list_tools(cursor=cursor) if cursor else await client.list_tools()
        tools += [t.model_dump(mode="json", exclude_none=True) for t in page.tools]
        cursor = page.next_cursor
        if not cursor:
            break
    seen["tools"] = sorted(tools, key=lambda t: t["name"])
    seen["echo"] = (await client.call_tool("echo", {"message": "hello"})).model_dump(mode="json", exclude_none=True)
    seen["sum"] = (await client.call_tool("get-sum", {"a": 2, "b": 3})).model_dump(mode="json", exclude_none=True)
    resources = await client.list_resources()
    first = resources.resources[0].uri
    seen["resource"] = (await client.read_resource(first)).model_dump(mode="json", exclude_none=True)
    prompts = await client.list_prompts()
    simple = next(p.name for p in prompts.prompts if "simple" in p.name)
    seen["prompt"] = (await client.get_prompt(simple)).model_dump(mode="json", exclude_none=True)
    progress: list[float] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(p)

    long = await client.call_tool(long_tool, {"duration": 0.3, "steps": 3}, progress_callback=on_progress)
    seen["long"] = long.model_dump(mode="json", exclude_none=True)
    seen["progress"] = progress
    if elicit_tool:
        seen["elicit"] = (await client.call_tool(elicit_tool, {})).model_dump(mode="json", exclude_none=True)
    return seen


async def answer_elicitation(ctx: Any, params: Any) -> Any:
    from mcp_types import ElicitResult

    return ElicitResult(action="accept", content={"color": "blue"})


def wrap_params(db: Path | Any, name: str, *target: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "proxy", "wrap", "--name", name, "--db", str(db), *target], cwd=str(ROOT)
    )


def line_stdio(name: str = "line", *flags: str, **extra: Any) -> MCPServerConfig:
    """The fast hand-written stdio server (tests/support/mcp_servers/lineserver.py)."""
    args = ["-m", "tests.support.mcp_servers.lineserver", *flags]
    return MCPServerConfig(name=name, command=sys.executable, args=args, cwd=str(ROOT), **extra)
