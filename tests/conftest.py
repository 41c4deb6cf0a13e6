"""Shared fixtures: real servers on real loopback sockets, a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from proxy.app import App
from proxy.config import Config
from proxy.scripted import Script, ScriptedUpstream
from proxy.server import running, uvicorn_config



@asynccontextmanager
async def proxy_for(upstream_url: str, db: Path, **llm: Any) -> AsyncIterator[tuple[str, App]]:
    """A recording proxy in front of `upstream_url`, yielding (base URL, app)."""
    config = Config()
    config.llm.base_url = upstream_url.rstrip("/") + "/v1"
    config.store.path = str(db)
    config.server.port = 0
    for key, value in llm.items():
        setattr(config.llm, key, value)
    app = App(config)
    async with running(app, uvicorn_config(app, config)) as url:
        yield url, app


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trace.db"


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[str, ScriptedUpstream]]:
    upstream = ScriptedUpstream(Script())
    async with running(upstream) as url:
        yield url, upstream


@pytest.fixture
async def proxy(scripted: tuple[str, ScriptedUpstream], db_path: Path) -> AsyncIterator[str]:
    async with proxy_for(scripted[0], db_path) as (url, _app):
        yield url


def rows(db: Path, sql: str = "SELECT * FROM exchanges ORDER BY id", args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def wait_rows(db: Path, count: int, sql: str = "SELECT * FROM exchanges ORDER BY id", timeout: float = 5) -> list[sqlite3.Row]:
    """Poll until the writer has put `count` rows on disk; recording is asynchronous by design."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = rows(db, sql) if db.exists() else []
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.02)


class Canned:
    """An upstream that answers every request with fixed bytes, sent in the given pieces."""

    def __init__(self, pieces: list[bytes], status: int = 200, content_type: bytes = b"text/event-stream", delay: float = 0.0) -> None:
        self.pieces, self.status, self.content_type, self.delay = pieces, status, content_type, delay
        self.bodies: list[bytes] = []
        self.headers: list[dict[bytes, bytes]] = []
        self.disconnected = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        self.headers.append(dict(scope["headers"]))
        finished = False

        async def watch() -> None:
            message = await receive()
            if message["type"] == "http.disconnect" and not finished:
                self.disconnected.set()

        watcher = asyncio.create_task(watch())
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"content-type", self.content_type), (b"x-upstream", b"canned")]})
        for piece in self.pieces:
            if self.disconnected.is_set():
                break
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            if self.delay:
                await asyncio.sleep(self.delay)
        finished = True
        await send({"type": "http.response.body", "body": b""})
        watcher.cancel()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 with a locally trained tokenizer and the Qwen3-style template."""
    from tests.tiny_model import build

    return build(tmp_path_factory.mktemp("tiny-qwen3"))
