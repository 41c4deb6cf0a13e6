"""Record traffic -> export -> finetune (TRL backend, a few steps) -> load and generate -> eval."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import tm

pytestmark = pytest.mark.slow  # real processes, models or many subprocesses: `-m "not slow"` skips them


async def test_record_export_finetune_generate_and_eval(recorded, tmp_path, tiny_model):
    data = tmp_path / "train.jsonl"
    assert tm("export", str(data), "--db", str(recorded)).returncode == 0
    assert len(data.read_text().splitlines()) == 4
    base_metrics = tmp_path / "base.json"
    before = tm(
        "eval",
        "--data",
        str(data),
        "--model",
        str(tiny_model),
        "--limit",
        "4",
        "--max-new-tokens",
        "8",
        "--out",
        str(base_metrics),
    )
    assert before.returncode == 0, before.stderr

    out = tmp_path / "run"
    result = tm(
        "finetune",
        "--data",
        str(data),
        "--model",
        str(tiny_model),
        "--out",
        str(out),
        "--backend",
        "trl",
        "--max-steps",
        "40",
        "--lr",
        "5e-3",
        "--grad-accum",
        "1",
        "--rank",
        "8",
        "--alpha",
        "16",
        "--merge",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "backend: trl (forced with --backend trl)" in result.stdout
        and "tokens/s" in result.stdout
        and "ETA" in result.stdout
    )
    report = json.loads((out / "run.json").read_text())
    assert report["data"]["train_rows"] == 8  # 4 episodes x 2 assistant turns, unrolled by default
    assert report["losses"]["final"] < report["losses"]["first"]
    assert report["config"]["rank"] == 8 and report["config"]["rslora"] is True and report["versions"]["trl"]
    assert report["timings"]["tokens_per_s"] > 0

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out / "adapter")
    merged = AutoModelForCausalLM.from_pretrained(out / "merged")
    assert merged.dtype == torch.bfloat16
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What's the weather?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    for model in (adapted, merged.float()):
        generated = model.generate(**prompt, max_new_tokens=5, do_sample=False)
        assert generated.shape[1] == prompt["input_ids"].shape[1] + 5

    after_metrics = tmp_path / "after.json"
    after = tm(
        "eval",
        "--data",
        str(data),
        "--model",
        str(out / "merged"),
        "--limit",
        "4",
        "--max-new-tokens",
        "8",
        "--out",
        str(after_metrics),
        "--compare",
        str(base_metrics),
    )
    assert after.returncode == 0, after.stderr[-2000:]
    metrics = json.loads(after_metrics.read_text())
    assert metrics["turns"] == 4 and metrics["tool_turns"] == 2 and metrics["text_turns"] == 2
    for key in (
        "tool_name_accuracy",
        "tool_args_exact",
        "tool_args_key_accuracy",
        "text_answer_rate",
        "mean_reasoning_chars",
    ):
        assert key in metrics
    assert "tool_name_accuracy" in after.stdout and "before" in after.stdout


async def test_dry_run_shows_the_mask_and_eval_split_reports_eval_loss(recorded, tmp_path, tiny_model):
    dry = tm("finetune", "--db", str(recorded), "--model", str(tiny_model), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "in the loss" in dry.stdout and "rows 8" in dry.stdout
    config = tmp_path / "ft.toml"
    config.write_text(
        f'[finetune]\nmodel = "{tiny_model}"\nmax-steps = 4\ngrad_accum = 1\nbackend = "trl"\neval_split = 0.5\neval_steps = 2\n'
    )
    result = tm("finetune", "--db", str(recorded), "--config", str(config), "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "r" / "run.json").read_text())
    assert report["config"]["max_steps"] == 4 and report["data"]["eval_rows"] > 0 and report["losses"]["eval"] > 0
    assert "eval_loss" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[finetune]\nlearning_rate = 1\n")
    refused = tm("finetune", "--db", str(recorded), "--config", str(bad), "--model", "x", "--out", str(tmp_path / "x"))
    assert refused.returncode == 1 and "unknown key finetune.learning_rate" in refused.stderr
    assert "Traceback" not in refused.stderr
