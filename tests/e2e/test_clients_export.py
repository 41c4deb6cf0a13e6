"""Real SDK clients through the proxy to the vLLM-like upstream: the exported episode is what the client saw.

Each client runs a tool-calling conversation with reasoning, streamed and not. `tracemill export`
must then give one episode whose messages (every turn's reasoning, tool-call ids and arguments,
tool results) and tools equal the client's view in canonical chat form.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from tests.support.agent_runs import agent_run
from tests.support.cli import export, tm
from tests.support.clients import Seen, anthropic_run, chat_run, comparable, responses_run
from tests.support.serving import proxy_for


async def recorded(db: Path, run, script: Script | None = None, prefix: str = "/v1") -> Seen:  # type: ignore[no-untyped-def]
    async with running(ScriptedUpstream(script or Script())) as up, proxy_for(up, db) as (proxy, app):
        seen = await run(proxy + prefix)
        await app.recorder.flush()
    return seen


def assert_exported(db: Path, out: Path, seen: Seen) -> dict:
    (row,) = export(db, out)
    assert [comparable(m) for m in row["messages"]] == [comparable(m) for m in seen.messages]
    assert row["tools"] == seen.tools
    assert all(m.get("reasoning_content") for m in row["messages"] if m["role"] == "assistant")  # every turn's
    return row


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both"])
async def test_openai_chat(tmp_path, streamed, field):
    # "both": vLLM during its field rename streams each piece under both names; recorded once.
    seen = await recorded(
        tmp_path / "t.db",
        lambda url: chat_run(url, streamed, **{"x-script-parallel": "2"}),
        Script(reasoning_field=field),
    )
    row = assert_exported(tmp_path / "t.db", tmp_path / "e.jsonl", seen)
    assert (
        len(row["messages"][2]["tool_calls"]) == 2
        and row["messages"][2]["reasoning_content"].count("The user asks") == 1
    )


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(
    ("stateful", "ids"), [(False, "completed"), (False, "streamed"), (True, "completed"), (True, "streamed")]
)
async def test_openai_responses(tmp_path, streamed, stateful, ids):
    if ids == "streamed" and not streamed:
        pytest.skip("only a stream has streamed ids")
    seen = await recorded(tmp_path / "t.db", lambda url: responses_run(url, streamed, stateful, ids))
    assert_exported(tmp_path / "t.db", tmp_path / "e.jsonl", seen)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("model_class", ["responses", "chat"])
async def test_openai_agents_sdk(tmp_path, model_class, streamed):
    seen = await recorded(tmp_path / "t.db", lambda url: agent_run(url, model_class, streamed))
    assert [m["role"] for m in seen.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert_exported(tmp_path / "t.db", tmp_path / "e.jsonl", seen)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_anthropic_sdk_with_thinking_and_tool_use(tmp_path, streamed):
    seen = await recorded(tmp_path / "t.db", lambda url: anthropic_run(url, streamed), prefix="")
    row = assert_exported(tmp_path / "t.db", tmp_path / "e.jsonl", seen)
    assert (
        "billing" not in row["messages"][0]["content"]
    )  # Claude Code's per-request block stays in the raw record only


async def test_every_dialect_shows_tokens_an_answer_and_its_tools_in_exchanges(tmp_path):
    db = tmp_path / "t.db"
    async with running(ScriptedUpstream()) as up, proxy_for(up, db) as (proxy, app):
        await chat_run(proxy + "/v1", False)
        await responses_run(proxy + "/v1", True)
        await anthropic_run(proxy, True)
        await app.recorder.flush()
    listed = tm("exchanges", "--json", "--db", str(db))
    import json

    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["dialect"] for r in rows} == {"chat_completions", "responses", "anthropic_messages"}
    assert all(r["prompt_tokens"] and r["completion_tokens"] for r in rows)
    assert all(r["summary"].startswith(("→ get_weather(", "Here is what I found")) for r in rows)
    assert all(r["completion_state"] == "complete" for r in rows)
    for row in rows:
        shown = tm("exchanges", "show", str(row["id"]), "--db", str(db)).stdout
        assert "tool get_weather: Weather now." in shown and "tool None" not in shown
        assert "The user asks" in shown or "I have what I need" in shown  # the reasoning
        if row["summary"].startswith("→"):
            assert "⚙ get_weather" in shown
