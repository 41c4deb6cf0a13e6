"""`store copy` between the backends (idempotent, curation kept, the same export byte for byte) and
`store prune` (what goes, what stays, and chaining that carries on afterwards), on each backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recorder import Filters, open_reader
from recorder.events import MCPMessage
from recorder.ingest.event_rows import build
from recorder.ingest.redact import Redactor
from recorder.store import write_rows
from tests.support.cli import tm
from tests.support.episode_data import add_exchange, assistant
from tests.support.stores import PASSWORD, TestStore, with_password


def curate(location: str) -> dict[str, int]:
    """Tag one episode, exclude another, and strip-then-undo: every kind of log step, undo included."""
    with open_reader(location) as reader:
        ids = {e["session"]: e["id"] for e in reader.episodes(Filters(include_excluded=True))}
        reader.curate(ids["s1"], "tag", tags=["good", "math"])
        reader.curate(ids["s2"], "exclude")
        reader.curate(ids["s1"], "strip_system")
        reader.undo(ids["s1"])
        reader.curate(ids["s1"], "drop_turns", start=5, end=6)
    return ids


def export_bytes(location: str, out: Path, *flags: str) -> bytes:
    result = tm("export", str(out), "--db", location, *flags)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_copy_to_the_other_backend_and_back_gives_the_same_export_and_a_rerun_copies_nothing(
    store, pg_databases, tmp_path
):
    curate(str(store))
    if store.is_postgres:
        middle, back = str(tmp_path / "middle.db"), with_password(pg_databases.create())
    else:
        middle, back = with_password(pg_databases.create()), str(tmp_path / "back.db")
    first = tm("store", "copy", str(store), middle)
    assert first.returncode == 0, first.stderr
    assert "copied 6 of 6 exchanges, 0 of 0 mcp messages and 5 of 5 curation steps" in first.stdout
    again = tm("store", "copy", str(store), middle)
    assert "copied 0 of 6 exchanges, 0 of 0 mcp messages and 0 of 5 curation steps" in again.stdout
    assert tm("store", "copy", middle, back).returncode == 0
    assert PASSWORD not in first.stdout + first.stderr + again.stdout + again.stderr
    for flags in ((), ("--include-excluded",), ("--unroll",)):
        original = export_bytes(str(store), tmp_path / "a.jsonl", *flags)
        assert export_bytes(middle, tmp_path / "m.jsonl", *flags) == original
        assert export_bytes(back, tmp_path / "b.jsonl", *flags) == original
    tagged = tm("traces", "list", "--db", back, "--tag", "math", "--json").stdout.splitlines()
    assert [json.loads(line)["session"] for line in tagged] == ["s1"]
    history = tm("traces", "history", str(json.loads(tagged[0])["id"]), "--db", back).stdout
    assert "strip_system {} (undone)" in history


def mcp_call(location: str, at: float, rpc_id: int) -> None:
    body = {"jsonrpc": "2.0", "id": rpc_id, "method": "tools/call", "params": {"name": "x", "arguments": {}}}
    write_rows(location, build(MCPMessage("srv", "c2s", "http", json.dumps(body).encode(), at=at), Redactor()))


def sessions(location: str) -> list[Any]:
    with open_reader(location) as reader:
        return sorted(e["session"] for e in reader.episodes(Filters(include_excluded=True)))


def test_prune_deletes_old_episodes_with_what_derives_from_them_and_chaining_carries_on(store: TestStore):
    location = str(store)
    mcp_call(location, 120, 1)
    mcp_call(location, 250, 2)
    curate(location)  # s1 (last exchange at 103) is tagged; s2 (200) is excluded; the import is from 2025
    before = "1970-01-01T00:02:30"  # 150 s after the epoch
    dry = tm("store", "prune", "--before", before, "--keep-tagged", "--dry-run", "--db", location)
    assert (
        "would delete 0 exchanges, 1 MCP messages, 0 episodes" in dry.stdout and "kept 1 tagged episodes" in dry.stdout
    )
    assert store.count() == 6 and store.count("mcp_messages") == 2
    done = tm("store", "prune", "--before", before, "--db", location)
    assert "deleted 4 exchanges, 1 MCP messages, 1 episodes (4 curation steps" in done.stdout, done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert sessions(location) == ["import:trace_20250529_130900", "s2"]
    assert store.count() == 2 and store.count("mcp_messages") == 1 and store.count("curation") == 1
    assert store.count("episode_exchanges") == 2 and store.count("llm_tool_calls") == 0
    # Everything goes, then recording goes on: the next exchange is chained (SQLite may reuse its id).
    assert "deleted 2 exchanges" in tm("store", "prune", "--before", "2100-01-01", "--db", location).stdout
    add_exchange(store, [{"role": "user", "content": "later"}], assistant("yes"), at=4_000_000_000, session="s3")
    assert sessions(location) == ["s3"]
