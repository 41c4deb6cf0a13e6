"""A store written before dialects and completion states opens with both filled in from what it holds."""

from __future__ import annotations

import json
import sqlite3
import time

from recorder import open_reader
from recorder.store import migrations
from recorder.store.sqlite import connect

BEFORE = [m for m in migrations.MIGRATIONS if m.__name__ < "m006"]  # what an older tracemill applied
U = {"role": "user", "content": "weather in Paris?"}


def chat(finish: str | None, content: str = "It is 18°C.") -> str:
    message = {"role": "assistant", "content": content, "reasoning_content": "Answer."}
    return json.dumps(
        {"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    )


def old_store(path, *, curated: bool) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for fn in BEFORE:
        fn(db)
        db.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, time.time()))
    rows = [
        # the sync openai SDK closed right after [DONE]: the old relay called that incomplete
        (
            "/v1/chat/completions",
            {"model": "q", "messages": [U]},
            chat("stop"),
            1,
            "client disconnected before the answer was complete",
        ),
        ("/v1/chat/completions", {"model": "q", "messages": [U]}, chat("length", "It is"), 0, None),
        (
            "/v1/chat/completions",
            {"model": "q", "messages": [U]},
            chat(None, "It"),
            1,
            "client disconnected before the answer was complete",
        ),
        (
            "/v1/responses",
            {"model": "q", "input": "weather in Oslo?"},
            json.dumps(
                {
                    "id": "resp_1",
                    "object": "response",
                    "status": "completed",
                    "output": [
                        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Cold."}]}
                    ],
                }
            ),
            0,
            None,
        ),
    ]
    for n, (path_, request, response, incomplete, error) in enumerate(rows, start=1):
        db.execute(
            "INSERT INTO exchanges (uid, started_at, method, path, status, request_json, response_json, incomplete, "
            "error) VALUES (?, ?, 'POST', ?, 200, ?, ?, ?, ?)",
            (f"u{n}", float(n), path_, json.dumps(request), response, incomplete, error),
        )
    # an older tracemill chained the chat exchanges (one episode each) and never the Responses one
    for n in (1, 2, 3):
        db.execute(
            "INSERT INTO episodes (session, source, started_at, updated_at, last_exchange_id, exchanges, turns, "
            "tool_calls) VALUES (NULL, 'proxy', ?, ?, ?, 1, 1, 0)",
            (float(n), float(n), n),
        )
        db.execute("INSERT INTO episode_exchanges VALUES (?, ?, 1, ?)", (n, n, f"hash{n}"))
    db.execute("INSERT INTO _cursors VALUES ('episodes', 4)")
    if curated:
        db.execute("INSERT INTO curation (at, episode_id, action, args) VALUES (1, 1, 'tag', '{\"tags\": [\"good\"]}')")
    db.close()


def test_old_rows_get_their_dialect_and_completion_state(tmp_path):
    path = tmp_path / "old.db"
    old_store(path, curated=False)
    db = connect(path)
    got = [
        tuple(r)
        for r in db.execute("SELECT dialect, completion_state, completion_reason, incomplete, error FROM exchanges")
    ]
    assert got == [
        ("chat_completions", "complete", None, 0, None),  # it had finished: no longer marked incomplete
        ("chat_completions", "truncated", "finish_reason length", 0, None),
        (
            "chat_completions",
            "incomplete",
            "client disconnected before the answer was complete",
            1,
            "client disconnected before the answer was complete",
        ),
        ("responses", "complete", None, 0, None),
    ]


def test_without_curation_episodes_are_rebuilt_and_the_responses_exchange_joins_them(tmp_path):
    path = tmp_path / "old.db"
    old_store(path, curated=False)
    with open_reader(path) as reader:
        listed = reader.episodes()
        assert sorted(e["first_user"] for e in listed) == ["weather in Oslo?"] + ["weather in Paris?"] * 3
        states = [reader.episode(e["id"]) for e in sorted(listed, key=lambda e: e["id"])]
        assert [(e.dialect, e.final_state, e.cut_off) for e in states if e is not None] == [
            ("chat_completions", "complete", False),
            ("chat_completions", "truncated", True),
            ("chat_completions", "incomplete", True),
            ("responses", "complete", False),
        ]


def test_with_curation_episodes_and_their_ids_stay_and_only_new_dialects_are_chained(tmp_path):
    path = tmp_path / "old.db"
    old_store(path, curated=True)
    with open_reader(path) as reader:
        listed = reader.episodes()
        assert sorted(e["id"] for e in listed) == [1, 2, 3, 4]
        assert reader.curation(1).tags == {"good"}
        first = reader.episode(1)
        assert first is not None and first.messages[-1]["reasoning_content"] == "Answer."  # answers filled in
        oslo = next(e for e in listed if e["id"] == 4)
        assert oslo["first_user"] == "weather in Oslo?"
