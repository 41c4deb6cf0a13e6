"""The PostgreSQL backend: the same tables as SQLite, for teams with many proxies on many hosts.

`connection.py` gives readers a connection shaped like `sqlite3`'s (the read SQL is written once, in
the subset both speak); `schema.py` runs the shared migrations under an advisory lock; `sink.py` is
the `RowSink`; `locks.py` keeps incremental chaining exact with many writers and readers. The driver
(psycopg 3) is an optional extra: `pip install 'tracemill[postgres]'`.
"""

from __future__ import annotations

import importlib.util

from recorder.store.location import StoreUnavailable

INSTALL_HINT = "pip install 'tracemill[postgres]'"


class DriverMissing(StoreUnavailable):
    """A PostgreSQL URL was given but psycopg is not installed."""


def require_driver() -> None:
    """Fail with one line that says what to install, before anything touches the driver (found, not imported)."""
    for module in ("psycopg", "psycopg_pool"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules (how tests hide it)
            found = False
        if not found:
            raise DriverMissing(f"a PostgreSQL store needs the psycopg driver: {INSTALL_HINT}")
