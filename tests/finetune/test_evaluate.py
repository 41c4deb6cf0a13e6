"""Scoring generated turns, and eval against an OpenAI-compatible endpoint through the proxy."""

from __future__ import annotations

import json

import pytest

from finetune.evaluate import aggregate, parse_generation, score
from proxy.fakes.scripted import ScriptedUpstream
from proxy.server import running
from tests.support.cli import tm
from tests.support.serving import proxy_for

TARGET = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "C"}'},
        },
    ],
}


def test_parse_generation_reads_reasoning_calls_and_broken_syntax():
    good = parse_generation(
        '<think>\nneed weather\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "F"}}\n</tool_call><|im_end|>'
    )
    assert good.reasoning == "need weather" and good.valid_calls == good.attempted_calls == 1
    s = score(TARGET, good)
    assert s["names_right"] and not s["args_exact"] and (s["keys_right"], s["keys_total"]) == (1, 2)
    broken = parse_generation("<think>x</think><tool_call>\n{name: get_weather}\n</tool_call>")
    assert broken.attempted_calls == 1 and broken.valid_calls == 0
    text = parse_generation("<think>done</think>\n\nIt is sunny.<|im_end|>garbage after end")
    assert text.content == "It is sunny." and not text.tool_calls
    metrics = aggregate(
        [score(TARGET, good), score({"role": "assistant", "content": "x"}, text), score(TARGET, broken)], [TARGET]
    )
    assert (
        metrics["tool_name_accuracy"] == 0.5
        and metrics["text_answer_rate"] == 1.0
        and metrics["tool_call_syntax_valid"] == 0.5
    )


@pytest.mark.slow
async def test_eval_against_an_endpoint_through_the_proxy(recorded, tmp_path):
    data = tmp_path / "d.jsonl"
    assert tm("export", str(data), "--db", str(recorded)).returncode == 0
    db = tmp_path / "eval-traffic.db"
    async with running(ScriptedUpstream()) as upstream, proxy_for(upstream, db) as (proxy, app):
        import asyncio

        out = tmp_path / "m.json"
        result = await asyncio.to_thread(
            tm,
            "eval",
            "--data",
            str(data),
            "--model",
            "Qwen/Qwen3-30B-A3B",
            "--endpoint",
            proxy + "/v1",
            "--out",
            str(out),
        )
        await app.recorder.flush()
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(out.read_text())
    # The recordings asked for two parallel calls (x-script-parallel: 2); replayed without that
    # header the scripted model makes only the first one: wrong call set, half the argument keys.
    assert metrics["turns"] == 8 and metrics["tool_turns"] == 4
    assert (
        metrics["tool_name_accuracy"] == 0.0
        and metrics["tool_args_exact"] == 0.0
        and metrics["tool_args_key_accuracy"] == 0.5
    )
    assert (
        metrics["text_answer_rate"] == 1.0
        and metrics["tool_call_syntax_valid"] == 1.0
        and metrics["mean_reasoning_chars"] > 0
    )
    recorded_rows = tm("exchanges", "--db", str(db), "--json").stdout.splitlines()
    assert len(recorded_rows) == 8  # the eval traffic itself went through tracemill
