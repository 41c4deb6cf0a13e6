"""Export, unroll, import and curation, through the real CLI where a user would use it."""

from __future__ import annotations

import json

import pytest

from finetune.dataset.unroll import cut_points
from tests.support.cli import export, tm
from tests.support.episode_data import add_exchange, assistant
from tests.support.export_data import TOOLS_A, TOOLS_B, tool


def test_episode_rows_carry_every_turns_reasoning_and_exact_tools(store, tmp_path):
    rows = export(store, tmp_path / "e.jsonl")
    assert len(rows) == 3
    multi = next(r for r in rows if r["session"] == "s1")
    assert set(multi) == {"id", "timestamp", "model", "messages", "tools", "session", "source"}
    assert multi["timestamp"].endswith("Z") and multi["tools"] == TOOLS_B and multi["source"] == "proxy"
    reasoning = [m.get("reasoning_content") for m in multi["messages"] if m["role"] == "assistant"]
    assert reasoning == ["Call get_sum.", "Say 5.", "Call again.", "Say 9."]  # dropped by the client, restored here
    call = multi["messages"][2]["tool_calls"][0]
    assert call == {"id": "c1", "type": "function", "function": {"name": "get_sum", "arguments": '{"a": 2, "b": 3}'}}
    imported = next(r for r in rows if r["source"] == "import")
    assert imported["model"] == "Qwen/Qwen3-30B-A3B-FP8" and imported["tools"] == TOOLS_A
    assert imported["timestamp"] == "2025-05-29T13:09:00.000000Z"
    assert [m["role"] for m in imported["messages"]] == ["system", "user", "assistant", "tool", "assistant"]


def test_unroll_writes_one_row_per_assistant_turn_and_user_turns_mode_cuts_like_the_workshop(store, tmp_path):
    rows = export(store, tmp_path / "u.jsonl", "--unroll")
    multi = [r for r in rows if r["session"] == "s1"]
    assert len(rows) == 4 + 1 + 2 and len(multi) == 4
    assert [(r["id"].split("#")[1], r["turn"], r["parent_id"]) for r in multi] == [
        (str(k), k, multi[0]["parent_id"]) for k in range(1, 5)
    ]
    assert [r["messages"][-1]["reasoning_content"] for r in multi] == [
        "Call get_sum.",
        "Say 5.",
        "Call again.",
        "Say 9.",
    ]
    assert [len(r["messages"]) for r in multi] == [3, 5, 7, 9]
    workshop = export(store, tmp_path / "w.jsonl", "--unroll=user-turns")
    assert len([r for r in workshop if r["session"] == "s1"]) == 2  # only the first reply after each user message
    assert cut_points(
        [{"role": "user"}, {"role": "assistant"}, {"role": "tool"}, {"role": "assistant"}], "user-turns"
    ) == [1]


@pytest.mark.slow
def test_strip_system_flag_and_curation_commands(store, tmp_path):
    assert all(
        m["role"] != "system" for r in export(store, tmp_path / "s.jsonl", "--strip-system") for m in r["messages"]
    )
    listed = [json.loads(line) for line in tm("traces", "list", "--db", str(store), "--json").stdout.splitlines()]
    multi = next(r["id"] for r in listed if r["session"] == "s1")
    hello = next(r["id"] for r in listed if r["session"] == "s2")
    for args in (
        ["tag", str(multi), "good", "math"],
        ["exclude", str(hello)],
        ["drop-turns", str(multi), "5..8"],
        ["strip-system", str(multi)],
    ):
        assert tm("traces", *args, "--db", str(store)).returncode == 0
    rows = export(store, tmp_path / "c.jsonl")
    assert {r["session"] for r in rows} == {"s1", "import:trace_20250529_130900"}
    curated = next(r for r in rows if r["session"] == "s1")
    assert [m["role"] for m in curated["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert [r["session"] for r in export(store, tmp_path / "t.jsonl", "--tag", "math")] == ["s1"]
    assert len(export(store, tmp_path / "all.jsonl", "--include-excluded")) == 3
    assert "undid strip_system" in tm("traces", "undo", str(multi), "--db", str(store)).stdout
    assert (
        next(r for r in export(store, tmp_path / "d.jsonl") if r["session"] == "s1")["messages"][0]["role"] == "system"
    )
    history = tm("traces", "history", str(multi), "--db", str(store)).stdout
    assert "strip_system {} (undone)" in history and "tag" in history
    raw = tm("exchanges", "--db", str(store), "--json").stdout  # the recordings themselves never change
    assert raw.count('"session": "s1"') == 4
    assert tm("traces", "tag", "999", "x", "--db", str(store)).returncode == 1


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["hf", "parquet"])
def test_arrow_round_trip_keeps_every_schema_exactly(store, tmp_path, fmt):
    from datasets import load_dataset, load_from_disk

    want = export(store, tmp_path / "ref.jsonl", "--unroll")
    out = tmp_path / f"out.{fmt}"
    export(store, out, "--format", fmt, "--unroll")
    loaded = load_from_disk(str(out)) if fmt == "hf" else load_dataset("parquet", data_files=str(out), split="train")
    got = [dict(r) for r in loaded]
    assert got == want  # tools of different shapes, argument strings and all: nothing merged, no nulls added
    assert got[0]["tools"] != got[-1]["tools"]


@pytest.mark.slow
def test_test_split_keeps_whole_episodes_on_one_side(store, tmp_path):
    from datasets import load_from_disk

    for n in range(30):
        add_exchange(
            store,
            [{"role": "user", "content": f"q{n}"}],
            assistant(None, "r", [(f"x{n}", "f", {})]),
            at=300 + n,
            session=f"k{n}",
        )
        add_exchange(
            store,
            [{"role": "user", "content": f"q{n}"}, assistant(None, None, [(f"x{n}", "f", {})]), tool(f"x{n}", "ok")],
            assistant("done", "r2"),
            at=300.5 + n,
            session=f"k{n}",
        )
    out = tmp_path / "split"
    result = tm("export", str(out), "--db", str(store), "--format", "hf", "--unroll", "--test-split", "0.3")
    assert result.returncode == 0, result.stderr
    splits = load_from_disk(str(out))
    train, test = ({r["parent_id"] for r in splits[name]} for name in ("train", "test"))
    assert train and test and not train & test
    assert len(splits["train"]) + len(splits["test"]) == 30 * 2 + 4 + 1 + 2  # new episodes, s1, s2, the import


def test_rows_render_unchanged_through_a_qwen3_style_template(store, tmp_path, tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    for row in export(store, tmp_path / "r.jsonl", "--unroll"):
        text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"] or None, tokenize=False)
        last = row["messages"][-1]
        assert f"<think>\n{last['reasoning_content']}\n</think>" in text
        for call in last.get("tool_calls", []):
            assert f'{{"name": "{call["function"]["name"]}", "arguments": {call["function"]["arguments"]}}}' in text
        for message in row["messages"]:
            if message["role"] == "tool":
                assert f"<tool_response>\n{message['content']}\n</tool_response>" in text
        for schema in row["tools"]:
            assert json.dumps(schema, ensure_ascii=False) in text
