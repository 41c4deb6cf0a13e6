"""PostgreSQL for the tests: a fresh database per test on the CI server, or a private cluster.

`.ci/run` starts a throwaway PostgreSQL 15 and exports its URL as TRACEMILL_TEST_PG_URL. Each test
gets its own database, copied from a template migrated once per session (a copy takes
milliseconds). Without a server the PostgreSQL half skips locally, and fails under CI=true so it
cannot silently vanish. Fault tests that stop or kill the server start a `Cluster` of their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ENV = "TRACEMILL_TEST_PG_URL"
HOW = f"no PostgreSQL server: set {ENV} (`.ci/postgres start` prints one)"


def server_url() -> str:
    """The test server's URL, or skip (fail under CI)."""
    url = os.environ.get(ENV)
    if not url:
        if IN_CI:
            pytest.fail(f"{HOW}; CI must run the PostgreSQL half")
        pytest.skip(HOW)
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Databases:
    """Creates a migrated database per test on one server, and drops them all at the end."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.admin = psycopg.connect(url, autocommit=True)
        self.template = f"tm_template_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = [self.template]
        self.admin.execute(f"CREATE DATABASE {self.template}")
        from recorder.store.postgres.connection import open_raw
        from recorder.store.postgres.schema import migrate

        conn = open_raw(with_database(url, self.template))
        migrate(conn, self.template)
        conn.close()

    def create(self, *, migrated: bool = True) -> str:
        name = f"tm_{uuid.uuid4().hex[:12]}"
        self.admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {self.template}" if migrated else ""))
        self.created.append(name)
        return with_database(self.url, name)

    def close(self) -> None:
        for name in reversed(self.created):
            self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.close()


class Cluster:
    """A private PostgreSQL cluster that a test may stop, restart or SIGKILL."""

    def __init__(self) -> None:
        if shutil.which("pg_ctl") is None and not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
            if IN_CI:
                pytest.fail("the PostgreSQL server binaries are required under CI")
            pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
        out = subprocess.run([str(ROOT / ".ci" / "postgres"), "start"], capture_output=True, text=True, check=True)
        self.url, folder = out.stdout.split()
        self.folder = Path(folder)
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

    def database(self) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tracemill")
        return with_database(self.url, "tracemill")

    def _ctl(self, *args: str) -> None:
        port = urlsplit(self.url).port
        opts = f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        cmd = f"{self.bin}/pg_ctl -D {self.folder}/data -l {self.folder}/log -w {' '.join(args)} -o '{opts}'"
        subprocess.run(
            ["su", "postgres", "-s", "/bin/sh", "-c", cmd] if os.getuid() == 0 else ["sh", "-c", cmd],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def start(self) -> None:
        self._ctl("start")

    def sigkill(self) -> None:
        """SIGKILL the postmaster and every backend, as a crash would."""
        lock = self.folder / "data" / "postmaster.pid"
        pid = int(lock.read_text().split()[0])
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        children = [int(p) for p in found]
        os.kill(pid, signal.SIGKILL)
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_dead(p) for p in (pid, *children)):
            time.sleep(0.05)
        # An orphan nobody reaps stays a zombie, which PostgreSQL would take for a live postmaster.
        for stale in (lock, *self.folder.glob(".s.PGSQL.*")):
            stale.unlink(missing_ok=True)

    def close(self) -> None:
        subprocess.run([str(ROOT / ".ci" / "postgres"), "stop", str(self.folder)], check=False)


def _dead(pid: int) -> bool:
    """Gone, or a zombie (killed, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@contextmanager
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    try:
        yield c
    finally:
        c.close()
