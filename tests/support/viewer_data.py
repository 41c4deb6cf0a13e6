"""Traffic for the viewer tests: an agent (openai SDK + mcp SDK) through a real `tracemill serve`,
whose tool results carry hostile HTML and run long, so escaping and folding are tested on real rows."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from openai import AsyncOpenAI

from proxy.config import Config
from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from proxy.ui import build
from tests.support.mcp_harness import ROOT
from tests.support.serving import start_serve

XSS = "<script>alert('xss')</script><img src=x onerror=\"alert('img')\"> & \"quoted\""
LONG = "\n".join(f"row {i}: " + "cell " * 12 for i in range(40))  # folds: past a few lines


async def agent(base: str, question: str, extra: str = "") -> list[dict[str, Any]]:
    """One tool-calling run: the LLM at base/v1, the tools at base/mcp/py; `extra` is appended to each tool result."""
    async with Client(base + "/mcp/py", mode="legacy") as mcp:
        listed = (await mcp.list_tools()).tools
        tools = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
            }
            for t in listed
        ]
        llm = AsyncOpenAI(base_url=base + "/v1", api_key="sk-viewer-test-123456")
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "Use the tools. " * 3},
            {"role": "user", "content": question},
        ]
        first = (await llm.chat.completions.create(model="qwen", messages=messages, tools=tools)).choices[0].message
        messages.append(first.model_dump(exclude_none=True))
        for call in first.tool_calls or []:
            result = await mcp.call_tool(call.function.name, json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content[0].text + extra})
        final = (await llm.chat.completions.create(model="qwen", messages=messages, tools=tools)).choices[0].message
        messages.append(final.model_dump(exclude_none=True))
        await llm.close()
        return messages


def mcp_config(folder: Path) -> Path:
    config = folder / "proxy.toml"
    config.write_text(
        f"[mcp.servers.py]\ncommand = {json.dumps(sys.executable)}\n"
        'args = ["-m", "tests.support.mcp_servers.pyserver", "stdio"]\n'
        f"cwd = {json.dumps(str(ROOT))}\n"
    )
    return config


@asynccontextmanager
async def serving(folder: Path, db: Any = None) -> AsyncIterator[tuple[str, Any]]:
    """`tracemill serve` (a real subprocess, viewer mounted) before the scripted upstream and the test MCP server.

    `db` is a TestStore (either backend); by default a SQLite file in `folder`."""
    db = db if db is not None else folder / "viewer.db"
    async with running(ScriptedUpstream()) as upstream:
        proc, url = start_serve(db, upstream + "/v1", config=mcp_config(folder))
        try:
            yield url, db
        finally:
            proc.terminate()
            proc.wait(10)


async def record_runs(url: str) -> None:
    """Two sessions: a plain one, and one whose tool results hold hostile HTML and 40 lines."""
    await agent(f"{url}/s/plain", "Echo something short for me.")
    await agent(f"{url}/s/hostile", "Echo the page <b>source</b> for me.", extra="\n" + XSS + "\n" + LONG)


def page_token(html: str) -> str:
    found = re.search(r'<meta name="tracemill-token" content="([^"]+)">', html)
    assert found, "the page carries its token"
    return found.group(1)


@asynccontextmanager
async def viewer(db: Any, host: str = "127.0.0.1", **ui: Any) -> AsyncIterator[tuple[str, httpx2.AsyncClient]]:
    """The viewer alone (as `tracemill ui` runs it) on a real socket, bound as if to `host`; a client for it.

    `db` is a SQLite path or a TestStore (either backend); exports go next to it, or to its folder."""
    config = Config()
    config.store.path = str(db)
    config.ui.export_dir = str((getattr(db, "folder", None) or Path(db).parent) / "exports")
    config.server.host = host
    for key, value in ui.items():
        setattr(config.ui, key, value)
    async with running(build(config, standalone=True)) as url, httpx2.AsyncClient(base_url=url, timeout=20) as client:
        yield url, client
