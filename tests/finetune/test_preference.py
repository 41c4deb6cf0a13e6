"""Ratings, edits and preference pairs, through the real CLI, and TRL's DPOTrainer loading the pairs."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import export, tm


def _ids(store) -> tuple[str, str, str]:
    listed = [json.loads(line) for line in tm("traces", "list", "--db", str(store), "--json").stdout.splitlines()]
    by_session = {r["session"]: str(r["id"]) for r in listed}
    return by_session["s1"], by_session["s2"], by_session["import:trace_20250529_130900"]


@pytest.mark.slow
def test_rating_filters_select_episodes_by_named_rating_or_reward(store, tmp_path):
    multi, hello, imported = _ids(store)
    for episode, value in ((multi, "good"), (hello, "bad"), (imported, "0.7")):
        assert tm("traces", "rate", episode, value, "--db", str(store)).returncode == 0

    def sessions(*flags: str) -> list[str]:
        return sorted(r["session"] for r in export(store, tmp_path / "r.jsonl", *flags))

    assert sessions("--rating", "good") == ["s1"]
    assert sessions("--rating", "bad") == ["s2"]
    assert sessions("--min-rating", "0.5") == ["import:trace_20250529_130900", "s1"]
    assert sessions("--rating", "0.7") == ["import:trace_20250529_130900"]
    assert sessions("--rating", "unrated") == []
    assert tm("traces", "undo", hello, "--db", str(store)).returncode == 0
    assert sessions("--rating", "unrated") == ["s2"]
    listed = tm("traces", "list", "--db", str(store), "--rating", "good", "--json").stdout.splitlines()
    assert [json.loads(line)["rating"] for line in listed] == ["good"]
    refused = tm("traces", "rate", multi, "great", "--db", str(store))
    assert refused.returncode == 2 and "good, bad or a number" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.slow
def test_edits_are_logged_used_by_exports_and_undoable(store, tmp_path):
    multi, _, _ = _ids(store)
    db = str(store)
    assert tm("traces", "edit", multi, "4", "--content", "The sum is 5.", "--db", db).returncode == 0
    new_args = '{"a": 2, "b": 3, "opts": {"round": true}}'
    assert tm("traces", "edit", multi, "2", "--tool-call", "0", "--arguments", new_args, "--db", db).returncode == 0
    row = next(r for r in export(store, tmp_path / "e.jsonl") if r["session"] == "s1")
    assert row["messages"][4]["content"] == "The sum is 5." and row["messages"][4]["reasoning_content"] == "Say 5."
    assert row["messages"][2]["tool_calls"][0]["function"] == {"name": "get_sum", "arguments": new_args}
    assert (
        json.loads(tm("traces", "show", multi, "--json", "--db", db).stdout)["episode"]["messages"][4]["content"] == "5"
    )  # the original stays
    for bad, why in (
        (["1", "--content", "x"], "not an assistant turn"),
        (["2", "--tool-call", "0", "--arguments", "{oops"], "must be JSON"),
        (["2", "--tool-call", "3", "--arguments", "{}"], "no tool call 3"),
    ):
        refused = tm("traces", "edit", multi, *bad, "--db", db)
        assert refused.returncode == 2 and why in refused.stderr
    history = tm("traces", "history", multi, "--db", db).stdout.splitlines()
    assert [line.split()[2] for line in history] == ["edit", "edit"]
    assert "undid edit" in tm("traces", "undo", multi, "--db", db).stdout
    *_, undone, undo = tm("traces", "history", multi, "--db", db).stdout.splitlines()
    assert undone.endswith("(undone)") and undo.split()[2] == "undo" and "(undone)" not in undo
    row = next(r for r in export(store, tmp_path / "u.jsonl") if r["session"] == "s1")
    assert (
        row["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"a": 2, "b": 3}'
        and row["messages"][4]["content"] == "The sum is 5."
    )


@pytest.mark.slow
def test_dpo_export_pairs_each_edited_turn_with_its_original(store, tmp_path, tiny_model):
    multi, _, _ = _ids(store)
    db = str(store)
    assert (
        tm("traces", "edit", multi, "2", "--tool-call", "0", "--arguments", '{"a": 2, "b": 30}', "--db", db).returncode
        == 0
    )
    assert tm("traces", "edit", multi, "4", "--content", "The sum is 5.", "--db", db).returncode == 0
    assert tm("traces", "drop-turns", multi, "5..8", "--db", db).returncode == 0
    out = tmp_path / "prefs.jsonl"
    result = tm("export", str(out), "--format", "dpo", "--db", db)
    assert result.returncode == 0 and "wrote 2 train preference pairs" in result.stdout, result.stderr
    first, second = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["role"] for m in first["prompt"]] == ["system", "user"] and first["id"] == f"{multi}#2"
    assert first["chosen"][0]["tool_calls"][0]["function"]["arguments"] == '{"a": 2, "b": 30}'
    assert first["rejected"][0]["tool_calls"][0]["function"]["arguments"] == '{"a": 2, "b": 3}'
    assert second["prompt"][2] == first["chosen"][0]  # an earlier edit holds in later prompts
    assert (second["chosen"][0]["content"], second["rejected"][0]["content"]) == ("The sum is 5.", "5")
    assert json.loads(second["tools"])[0]["function"]["name"] == "get_sum"
    assert tm("export", str(out), "--format", "dpo", "--unroll", "--db", db).returncode == 2

    # The README's recipe: load the file with `datasets` and hand it to TRL's DPOTrainer.
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    dataset = load_dataset("json", data_files=str(out), split="train")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    args = DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        max_steps=1,
        per_device_train_batch_size=2,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
    )
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    encoded = trainer.train_dataset[0]
    assert tokenizer.decode(encoded["chosen_ids"]).count('"b": 30') == 1 and '"b": 30' not in tokenizer.decode(
        encoded["rejected_ids"]
    )
    assert trainer.train().training_loss > 0
