"""Running the app on uvicorn, configured for transparency (no Date or Server header of ours)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from proxy.app import App
from proxy.config import Config
from proxy.connection import protocol_for


class _DropExpected(logging.Filter):
    """uvicorn logs a traceback for any exception an app raises; ours for a broken upstream is
    expected and was already logged in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from proxy.llm import UpstreamBroke

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, UpstreamBroke)


def uvicorn_config(app: App, config: Config, **extra: object) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_DropExpected())
    server = config.server
    return uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        lifespan="on",
        server_header=False,
        date_header=False,
        access_log=False,
        log_config=None,
        http=protocol_for(server),  # header deadline and size cap
        h11_max_incomplete_event_size=server.max_header_bytes,
        timeout_keep_alive=server.keep_alive,  # type: ignore[arg-type]
        timeout_graceful_shutdown=server.grace_seconds,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


def serve(config: Config) -> None:
    app = App(config)
    uvicorn.Server(uvicorn_config(app, config)).run()


@asynccontextmanager
async def running(app: Any, config: uvicorn.Config | None = None, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run an ASGI app on a real socket inside the current event loop; yields its base URL."""
    config = config or uvicorn.Config(app, host=host, port=0, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            raise RuntimeError(f"the server did not start: {task.exception()!r}")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{config.host}:{port}"
    finally:
        server.should_exit = True
        await task
