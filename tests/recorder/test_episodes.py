"""Chaining exchanges into episodes: continuation, edits, restarts, sessions, and reasoning."""

from __future__ import annotations

from recorder.store import chaining as episodes
from recorder.store import connect_existing, dbapi
from recorder.store.conversations import load_episode
from tests.support.episode_data import add_exchange, assistant

SYS = {"role": "system", "content": "You are helpful."}
U1 = {"role": "user", "content": "weather in Paris?"}


def tool(call_id: str, content: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def all_episodes(db):
    conn = connect_existing(str(db))
    episodes.update(conn)
    return conn, [dict(r) for r in conn.execute("SELECT * FROM episodes ORDER BY id")]


def test_an_agent_loop_is_one_episode_with_every_turns_reasoning_even_when_the_client_drops_it(db):
    a1 = assistant(None, "I need the weather tool.", [("c1", "get_weather", {"city": "Paris"})])
    add_exchange(db, [SYS, U1], a1, at=1)
    # the client sends history back without reasoning, with re-serialised arguments
    echoed = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    a2 = assistant("It is 18°C.", "Now I can answer.", field="reasoning")
    add_exchange(db, [SYS, U1, echoed, tool("c1", "18°C")], a2, at=2)
    conn, eps = all_episodes(db)
    assert len(eps) == 1 and eps[0]["exchanges"] == 2 and eps[0]["turns"] == 2 and eps[0]["tool_calls"] == 1
    episode = load_episode(conn, eps[0]["id"])
    assert [m["role"] for m in episode.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert episode.messages[2]["reasoning_content"] == "I need the weather tool."  # recovered from the first exchange
    assert episode.messages[4]["reasoning_content"] == "Now I can answer."  # `reasoning` normalised
    assert "reasoning" not in episode.messages[4]
    assert episode.messages[2]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'  # what the client sent


def test_an_edit_or_restart_starts_a_new_episode_and_a_later_turn_forks(db):
    a1 = assistant("Paris is rainy.", "r1")
    add_exchange(db, [U1], a1, at=1)
    add_exchange(db, [U1, a1, {"role": "user", "content": "and Tokyo?"}], assistant("Tokyo is clear.", "r2"), at=2)
    add_exchange(
        db, [{"role": "user", "content": "weather in Lima?"}], assistant("Lima is grey.", "r3"), at=3
    )  # restart
    add_exchange(
        db, [U1, a1, {"role": "user", "content": "and Oslo?"}], assistant("Oslo is cold.", "r4"), at=4
    )  # an edit of turn 2
    conn, eps = all_episodes(db)
    assert [(e["exchanges"], e["turns"], e["forked_from"]) for e in eps] == [
        (2, 2, None),
        (1, 1, None),
        (1, 2, eps[0]["id"]),
    ]
    fork = load_episode(conn, eps[2]["id"])
    assert [m.get("reasoning_content") for m in fork.messages if m["role"] == "assistant"] == ["r1", "r4"]


def test_session_keys_keep_identical_prefixes_apart(db):
    a1 = assistant("hi", "r")
    for session in ("a", "b"):
        add_exchange(db, [U1], a1, at=1, session=session)
    add_exchange(db, [U1, a1, {"role": "user", "content": "more"}], assistant("more", "r"), at=2, session="b")
    _, eps = all_episodes(db)
    assert [(e["session"], e["exchanges"]) for e in eps] == [("a", 1), ("b", 2)]


def test_updates_are_incremental(db):
    add_exchange(db, [U1], assistant("x"), at=1)
    conn, _ = all_episodes(db)
    assert episodes.update(conn) == 0
    add_exchange(db, [U1, assistant("x"), {"role": "user", "content": "y"}], assistant("z"), at=2)
    assert episodes.update(conn) == 1
    assert conn.execute("SELECT exchanges FROM episodes").fetchone()[0] == 2


def test_two_readers_refreshing_at_once_chain_each_exchange_once(db, monkeypatch):
    add_exchange(db, [U1], assistant("x"), at=1)
    add_exchange(db, [U1, assistant("x"), {"role": "user", "content": "y"}], assistant("z"), at=2)
    first, second = connect_existing(str(db)), connect_existing(str(db))
    real = dbapi.transaction
    raced: list[int] = []

    def other_reader_first(conn):  # the second reader chains between our read and our write lock
        if conn is first and not raced:
            raced.append(-1)
            raced[0] = episodes.update(second)
        return real(conn)

    monkeypatch.setattr(dbapi, "transaction", other_reader_first)
    episodes.update(first)
    assert raced == [2]
    assert tuple(first.execute("SELECT count(*), sum(exchanges) FROM episodes").fetchone()) == (1, 2)


def test_identical_concurrent_runs_are_as_many_episodes_not_stubs_and_forks(db):
    # The upstream answers the same request the same way, ids included (greedy or seeded sampling).
    a1 = assistant(None, "Call the tool.", [("call-1", "get_weather", {"city": "Paris"})])
    a2 = assistant("It is 18°C.", "Answer.")
    second = [SYS, U1, a1, tool("call-1", "18°C")]
    at = iter(range(1, 100))
    for _ in range(3):  # three runs, interleaved turn by turn as concurrent runs are
        add_exchange(db, [SYS, U1], a1, at=next(at))
    for _ in range(3):
        add_exchange(db, second, a2, at=next(at))
    add_exchange(db, [SYS, U1], a1, at=next(at))  # and one more run, after them
    add_exchange(db, second, a2, at=next(at))
    _, eps = all_episodes(db)
    assert [(e["exchanges"], e["turns"], e["forked_from"]) for e in eps] == [(2, 2, None)] * 4


def test_a_different_image_is_a_different_conversation(tmp_path):
    db = tmp_path / "e.db"

    def asked(url: str) -> dict:
        image = {"type": "image_url", "image_url": {"url": url}}
        return {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}

    a1 = assistant("A cat.", "Look.")
    add_exchange(db, [asked("data:image/png;base64,AAAA")], a1, at=1)
    follow = {"role": "user", "content": "And its colour?"}
    add_exchange(db, [asked("data:image/png;base64,BBBB"), a1, follow], assistant("Grey.", "Look again."), at=2)
    add_exchange(db, [asked("data:image/png;base64,AAAA"), a1, follow], assistant("Black.", "Look again."), at=3)
    _, eps = all_episodes(db)
    assert [(e["exchanges"], e["turns"]) for e in eps] == [(2, 2), (1, 2)]  # only the same image continues
