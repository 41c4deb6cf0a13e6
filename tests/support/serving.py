"""Start `tracemill serve` as a real subprocess and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2

from proxy.app import App
from proxy.config import Config
from proxy.server import running, uvicorn_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(
    db: Path | Any, upstream: str, *extra: str, config: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`db` is a SQLite path or a TestStore (either backend); logs go to its folder."""
    folder = getattr(db, "folder", None) or db.parent
    port = free_port()
    cmd = [sys.executable, "-m", "proxy", "serve", "--port", str(port), "--upstream", upstream, "--db", str(db), *extra]
    if config is not None:
        cmd[3:3] = ["--config", str(config)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(folder / f"serve-{port}.log", "wb")  # noqa: SIM115  (a file, not a pipe nobody drains; the child keeps it)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    proc.log_path = log.name  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tracemill serve exited: {Path(log.name).read_text()}")
        try:
            if httpx2.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc, url
        except httpx2.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("tracemill serve did not start")


@asynccontextmanager
async def proxy_for(upstream_url: str, db: Path | Any, **llm: Any) -> AsyncIterator[tuple[str, App]]:
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
