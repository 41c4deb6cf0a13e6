"""Read the store back in tests, and a canned upstream for failure cases."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any


def rows(db: Path | Any, sql: str = "SELECT * FROM exchanges ORDER BY id", args: tuple[Any, ...] = ()) -> list[Any]:
    """Rows of a SQLite file, or of a `TestStore` on either backend (`?` placeholders)."""
    if hasattr(db, "rows"):
        return db.rows(sql, args)  # type: ignore[no-any-return]
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def wait_rows(
    db: Path | Any, count: int, sql: str = "SELECT * FROM exchanges ORDER BY id", timeout: float = 5
) -> list[sqlite3.Row]:
    """Poll until the writer has put `count` rows on disk; recording is asynchronous by design."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = rows(db, sql) if db.exists() else []  # a TestStore has exists() too
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.02)


class Canned:
    """An upstream that answers every request with fixed bytes, sent in the given pieces."""

    def __init__(
        self, pieces: list[bytes], status: int = 200, content_type: bytes = b"text/event-stream", delay: float = 0.0
    ) -> None:
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
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", self.content_type), (b"x-upstream", b"canned")],
            }
        )
        for piece in self.pieces:
            if self.disconnected.is_set():
                break
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            if self.delay:
                await asyncio.sleep(self.delay)
        finished = True
        await send({"type": "http.response.body", "body": b""})
        watcher.cancel()
