"""`finetune --exact-tokens`: the loss falls on the recorded completion ids, token for token."""

from __future__ import annotations

import json

import pytest

from finetune.dataset.tokens import TokenOptions, training_rows
from finetune.train.exact import examples


def test_labels_are_the_completion_ids_and_nothing_else():
    rows = [
        {"input_ids": [5, 6, 7, 8, 9], "loss_mask": [0, 0, 1, 1, 0]},
        {"input_ids": [1, 2], "loss_mask": [0, 0]},  # nothing to learn
        {"input_ids": [1, 2, 3], "loss_mask": [0, 1]},  # a mask that does not fit
        {"input_ids": [4, 4, 4, 4], "loss_mask": [0, 0, 0, 1]},
    ]
    made, skipped = examples(rows, max_length=3)
    assert (
        made == [{"input_ids": [5, 6, 7], "labels": [-100, -100, 7]}] and skipped == 3
    )  # the last is cut to [4, 4, 4]


@pytest.fixture(scope="module")
def store_rows(token_store, tiny_model):
    return training_rows(None, str(token_store["db"]), str(tiny_model), TokenOptions(), say=lambda *_: None)


def test_the_trainer_sees_exactly_the_recorded_ids_with_loss_on_the_completion(
    store_rows, token_store, tiny_model, tmp_path, monkeypatch
):
    from trl import SFTTrainer

    from finetune.train.run import TrainConfig, run

    seen: list[tuple[list[int], list[int]]] = []
    original = SFTTrainer.compute_loss

    def spy(self, model, inputs, *args, **kwargs):
        for ids, labels in zip(inputs["input_ids"].tolist(), inputs["labels"].tolist(), strict=True):
            seen.append((ids, labels))
        return original(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(SFTTrainer, "compute_loss", spy)
    config = TrainConfig(
        model=str(tiny_model),
        out=str(tmp_path / "run"),
        max_steps=len(store_rows),
        grad_accum=1,
        rank=4,
        alpha=8,
        exact_tokens=True,
        seed=1,
    )
    report = run(config, store_rows, [], say=lambda *_: None)
    assert report["data"]["train_rows"] == 6 and report["config"]["exact_tokens"] is True
    expected = {}
    for _exchange, (prompt, completion) in token_store["truth"].items():
        expected[tuple(prompt + completion)] = [-100] * len(prompt) + completion
    assert len(seen) == 6 and {tuple(ids) for ids, _ in seen} == set(expected)
    for ids, labels in seen:  # batch size 1: no padding, each row as recorded
        assert labels == expected[tuple(ids)]


def test_the_command_trains_from_a_tokens_export(token_store, tiny_model, tmp_path):
    from tests.support.cli import export, tm

    export(token_store["db"], tmp_path / "t.jsonl", "--format", "tokens", "--tokenizer", str(tiny_model))
    out = tmp_path / "run"
    result = tm(
        "finetune",
        "--data",
        str(tmp_path / "t.jsonl"),
        "--model",
        str(tiny_model),
        "--out",
        str(out),
        "--exact-tokens",
        "--max-steps",
        "2",
        "--grad-accum",
        "1",
        "--rank",
        "4",
        "--alpha",
        "8",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "run.json").read_text())
    assert (
        report["config"]["exact_tokens"] is True
        and report["data"]["train_rows"] == 6
        and len(report["losses"]["history"]) == 2
    )
    plain = tm(
        "finetune", "--data", str(tmp_path / "t.jsonl"), "--model", str(tiny_model), "--exact-tokens", "--dry-run"
    )
    assert plain.returncode == 0 and "rows 6 (skipped 0)" in plain.stdout
    wrong = tm(
        "finetune", "--data", str(tmp_path / "missing.jsonl"), "--model", str(tiny_model), "--exact-tokens", "--dry-run"
    )
    assert wrong.returncode == 1 and "export --format tokens" in wrong.stderr
