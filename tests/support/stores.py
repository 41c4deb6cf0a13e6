"""The one parametrised store fixture: every store-touching test runs on SQLite and on PostgreSQL.

`db` is a `TestStore`: `str(db)` is what `--db` and `[store] path` take (a file path or a URL), and
`db.rows(sql)` reads it back with `?` placeholders on either backend.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.pg import Databases, server_url


@dataclass(frozen=True)
class TestStore:
    location: str
    kind: str  # "sqlite" or "postgres"
    folder: Path  # the test's own folder: logs, configs, exports

    __test__ = False  # not a test class, whatever its name

    def __str__(self) -> str:
        return self.location

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    def exists(self) -> bool:
        return self.is_postgres or Path(self.location).exists()

    def rows(self, sql: str = "SELECT * FROM exchanges ORDER BY id", args: tuple[Any, ...] = ()) -> list[Any]:
        if self.is_postgres:
            from recorder.store.postgres.connection import PgConnection, open_raw

            with PgConnection(open_raw(self.location), self.location) as conn:
                return conn.execute(sql, args).fetchall()
        if not Path(self.location).exists():
            return []
        conn = sqlite3.connect(self.location)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def execute(self, sql: str) -> None:
        """One statement outside tracemill (a trigger, a DROP), in its own transaction."""
        if self.is_postgres:
            from recorder.store.postgres.connection import open_raw

            with open_raw(self.location) as conn:
                conn.execute(sql)
            return
        conn = sqlite3.connect(self.location, isolation_level=None)
        try:
            conn.execute(sql)
        finally:
            conn.close()

    def fail_writes(self, message: str = "database or disk is full") -> None:
        """Make every insert into exchanges fail, as a full disk or a read-only server would."""
        if self.is_postgres:
            self.execute(
                "CREATE FUNCTION tm_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
            )
            self.execute("CREATE TRIGGER refuse BEFORE INSERT ON exchanges FOR EACH ROW EXECUTE FUNCTION tm_refuse()")
        else:
            self.execute(f"CREATE TRIGGER full BEFORE INSERT ON exchanges BEGIN SELECT RAISE(ABORT, '{message}'); END")

    def allow_writes(self) -> None:
        self.execute("DROP TRIGGER refuse ON exchanges" if self.is_postgres else "DROP TRIGGER full")

    def count(self, table: str = "exchanges") -> int:
        return int(self.rows(f"SELECT count(*) FROM {table}")[0][0])

    async def wait_rows(
        self, count: int, sql: str = "SELECT * FROM exchanges ORDER BY id", timeout: float = 5
    ) -> list[Any]:
        """Poll until the writer has stored `count` rows; recording is asynchronous by design."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.rows(sql)
            if len(found) >= count or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.02)


# The test server trusts every local login, so this password is never checked; it is there to
# prove that no message, file or page tracemill writes ever shows it.
PASSWORD = "tm-secret-pw"


def with_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user.split(':')[0]}:{PASSWORD}@{host}"


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases]:
    dbs = Databases(server_url())
    yield dbs
    dbs.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestStore:
    """A fresh, empty store on each backend (PostgreSQL: a database of its own, already migrated).

    PostgreSQL spill files go to the user's state folder: here, one inside the test's tmp_path.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    if request.param == "sqlite":
        return TestStore(str(tmp_path / "trace.db"), "sqlite", tmp_path)
    return TestStore(with_password(request.getfixturevalue("pg_databases").create()), "postgres", tmp_path)


@pytest.fixture
def pg(pg_databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestStore:
    """A fresh PostgreSQL store, for the tests only PostgreSQL needs."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return TestStore(with_password(pg_databases.create()), "postgres", tmp_path)
