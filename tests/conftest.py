"""Shared fixtures: real servers on real loopback sockets, a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from tests.support.serving import proxy_for
from tests.support.store_rows import Canned, rows, wait_rows  # noqa: F401  (re-exported for tests)

# Fixtures shared across folders live in tests/support and register here.
pytest_plugins = [
    "tests.support.export_data",
    "tests.support.recordings",
    "tests.support.token_recordings",
    "tests.support.stores",
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trace.db"


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[str, ScriptedUpstream]]:
    upstream = ScriptedUpstream(Script())
    async with running(upstream) as url:
        yield url, upstream


@pytest.fixture
async def proxy(scripted: tuple[str, ScriptedUpstream], db: Any) -> AsyncIterator[str]:
    """The recording proxy in front of the scripted upstream, recording into `db` (each backend)."""
    async with proxy_for(scripted[0], db) as (url, _app):
        yield url


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 with a locally trained tokenizer and the Qwen3-style template."""
    from tests.support.tiny_model import build

    return build(tmp_path_factory.mktemp("tiny-qwen3"))


def pytest_configure(config: pytest.Config) -> None:
    # Orphans (npx's node child, a server a test forgot) come back to us, so the check below sees them.
    from tests.support.procs import become_subreaper

    become_subreaper()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No process may outlive the test run: list what is left below us, kill it, and fail."""
    import os

    from tests.support.procs import command_line, descendants, kill_all, reap

    reap()
    left = descendants(os.getpid())
    if not left:
        return
    lines = "\n".join(f"  {pid}: {command_line(pid)[:200]}" for pid in left)
    kill_all(left)
    reap()
    session.config.get_terminal_writer().line(
        f"\nprocesses left running after the tests (killed now):\n{lines}", red=True
    )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
