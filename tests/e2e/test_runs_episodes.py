"""The same task run 3 times one after another and 3 times at once, with no session key: 6 episodes.

Both when the upstream samples (fresh ids and reasoning per run) and when it answers the same
request the same way, ids included (greedy or seeded sampling with deterministic tool-call ids):
identical runs must not pile onto one episode and leave stubs and forks.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from tests.support.cli import export, tm
from tests.support.clients import anthropic_run, chat_run, responses_run
from tests.support.serving import proxy_for

RUNS = {
    "chat": lambda proxy: chat_run(proxy + "/v1", True),
    "responses": lambda proxy: responses_run(proxy + "/v1", False),
    "responses-stateful": lambda proxy: responses_run(proxy + "/v1", True, stateful=True),
    "anthropic": lambda proxy: anthropic_run(proxy, False),
}


@pytest.mark.parametrize("deterministic", [True, False], ids=["same-answers", "sampled"])
@pytest.mark.parametrize("dialect", list(RUNS))
async def test_three_sequential_and_three_concurrent_runs_are_six_episodes(tmp_path, dialect, deterministic):
    db = tmp_path / "t.db"
    upstream = ScriptedUpstream(Script(deterministic=deterministic, chunk_delay=0.002))
    async with running(upstream) as up, proxy_for(up, db) as (proxy, app):
        seen = [await RUNS[dialect](proxy) for _ in range(3)]
        seen += await asyncio.gather(*(RUNS[dialect](proxy) for _ in range(3)))
        await app.recorder.flush()
    listed = [json.loads(line) for line in tm("traces", "list", "--json", "--db", str(db)).stdout.splitlines()]
    assert [(e["exchanges"], e["turns"], e["forked_from"]) for e in listed] == [(2, 2, None)] * 6
    rows = export(db, tmp_path / "e.jsonl")
    assert len(rows) == 6
    got = sorted(json.dumps(r["messages"][2:]) for r in rows)
    calls = {c["id"] for r in rows for m in r["messages"] for c in m.get("tool_calls") or []}
    thoughts = {m["reasoning_content"] for r in rows for m in r["messages"] if m["role"] == "assistant"}
    if deterministic:
        assert len(set(got)) == 1 and len(calls) == 1  # six identical runs, six episodes
    else:
        assert len(set(got)) == 6 and len(calls) == 6 and len(thoughts) == 12  # each its own ids and reasoning
        assert {s.messages[2]["tool_calls"][0]["id"] for s in seen} == calls
