"""Where a store lives: a SQLite file path, or a PostgreSQL URL. Printing one never shows a password.

`postgresql://user@host:5432/tracemill` (or `postgres://`) names a PostgreSQL store; anything else
is a SQLite file. The password may come from the URL, the standard `PG*` environment variables
or `~/.pgpass` (libpq reads the last two itself); it is masked in every message tracemill writes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")
MASK = "***"


class StoreUnavailable(RuntimeError):
    """The store cannot be reached or used (server down, driver missing); the message says why, in one line."""


def is_postgres(location: str | os.PathLike[str]) -> bool:
    return str(location).lower().startswith(SCHEMES)


def masked(location: str | os.PathLike[str]) -> str:
    """The location fit to print: a URL's password (in userinfo or `?password=`) becomes ***."""
    text = str(location)
    if not is_postgres(text):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':' + MASK if colon else ''}@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def without_password(location: str) -> str:
    """The location to write into another program's config: a URL loses its password (which then comes
    from PGPASSWORD or ~/.pgpass), a SQLite path becomes absolute."""
    if not is_postgres(location):
        return str(Path(location).resolve())
    return masked(location).replace(f":{MASK}@", "@").replace(f"password={MASK}", "").rstrip("?&")


def password_of(location: str) -> str | None:
    """The password written in the URL, if any (so messages can be scrubbed of it)."""
    if not is_postgres(location):
        return None
    parts = urlsplit(location)
    if parts.password:
        return parts.password
    return next((v for k, v in parse_qsl(parts.query) if k.lower() == "password"), None)


def scrub(text: str, location: str) -> str:
    """A message (a driver error, say) with the location's password masked wherever it appears."""
    secret = password_of(location)
    if secret:
        text = text.replace(secret, MASK)
    return re.sub(r"(password\s*=\s*)\S+", r"\1" + MASK, text, flags=re.I)


def spill_path(location: str | os.PathLike[str]) -> Path:
    """The JSONL spill file for a store: next to a SQLite file; per database in the user's state dir for PostgreSQL.

    The PostgreSQL file is named after host, port and database (never the password), so `serve` and a
    later `store recover` on the same machine agree on it whatever folder each runs in.
    """
    text = str(location)
    if not is_postgres(text):
        return Path(f"{text}.spill.jsonl")
    parts = urlsplit(text)
    user = f"{parts.username}@" if parts.username else ""
    name = f"{user}{parts.hostname or 'local'}-{parts.port or 5432}-{parts.path.strip('/') or 'db'}"
    name = re.sub(r"[^A-Za-z0-9@._-]", "_", name)[:120]
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "tracemill" / f"{name}.spill.jsonl"
