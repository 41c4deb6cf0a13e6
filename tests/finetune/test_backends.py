"""Backend choice, and the Unsloth code path with only the Unsloth module substituted."""

from __future__ import annotations

import json
import sys
import types

import pytest

from finetune.train import backends
from finetune.train.backends import BackendError, select

pytestmark = pytest.mark.slow  # real processes, models or many subprocesses: `-m "not slow"` skips them


def test_selection_without_cuda_or_unsloth(monkeypatch):
    monkeypatch.setattr(backends, "cuda_available", lambda: False)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: True)
    assert select("auto") == ("trl", "no CUDA")
    with pytest.raises(BackendError, match="needs an NVIDIA GPU with CUDA, and this machine has none"):
        select("unsloth")
    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: False)
    assert select("auto") == ("trl", "CUDA, but Unsloth is not installed")
    with pytest.raises(BackendError, match="pip install 'tracemill\\[unsloth\\]'"):
        select("unsloth")
    monkeypatch.setattr(backends, "unsloth_installed", lambda: True)
    assert select("auto") == ("unsloth", "CUDA and Unsloth are available")


def test_forcing_unsloth_without_a_gpu_is_one_line_not_a_traceback(tmp_path):
    from tests.support.cli import tm

    data = tmp_path / "d.jsonl"
    row = {
        "id": "1",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        "tools": [],
    }
    data.write_text(json.dumps(row) + "\n")
    result = tm("finetune", "--data", str(data), "--model", "x", "--out", str(tmp_path / "o"), "--backend", "unsloth")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Unsloth needs an NVIDIA GPU" in result.stderr or "Unsloth is not installed" in result.stderr


def fake_unsloth(calls: list[str]) -> types.ModuleType:
    """Stands in for the unsloth package only: it loads with transformers and applies PEFT LoRA."""
    module = types.ModuleType("unsloth")

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(model_name, max_seq_length, load_in_4bit, dtype):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            calls.append(f"from_pretrained 4bit={load_in_4bit} max_seq_length={max_seq_length}")
            return AutoModelForCausalLM.from_pretrained(model_name), AutoTokenizer.from_pretrained(model_name)

        @staticmethod
        def get_peft_model(
            model,
            r,
            lora_alpha,
            lora_dropout,
            target_modules,
            bias,
            use_gradient_checkpointing,
            random_state,
            use_rslora,
        ):
            from peft import LoraConfig, get_peft_model

            calls.append(f"get_peft_model r={r} checkpointing={use_gradient_checkpointing} rslora={use_rslora}")
            peft_model = get_peft_model(
                model,
                LoraConfig(
                    r=r,
                    lora_alpha=lora_alpha,
                    target_modules=target_modules,
                    use_rslora=use_rslora,
                    task_type="CAUSAL_LM",
                ),
            )

            def save_pretrained_merged(folder, tokenizer, save_method):
                calls.append(f"save_pretrained_merged {save_method}")
                peft_model.merge_and_unload().save_pretrained(folder)
                tokenizer.save_pretrained(folder)

            peft_model.save_pretrained_merged = save_pretrained_merged
            return peft_model

    module.FastLanguageModel = FastLanguageModel
    return module


def test_the_unsloth_path_runs_end_to_end_with_a_substituted_module(tmp_path, tiny_model, monkeypatch):
    from finetune.train.run import TrainConfig, run

    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "unsloth", fake_unsloth(calls))
    monkeypatch.setattr(backends, "cuda_available", lambda: True)  # only the choice believes in a GPU
    monkeypatch.setattr(backends, "unsloth_installed", lambda: True)
    rows = [
        {
            "id": str(i),
            "tools": [],
            "messages": [
                {"role": "user", "content": f"say {i}"},
                {"role": "assistant", "content": f"ok {i}", "reasoning_content": "r"},
            ],
        }
        for i in range(4)
    ]
    said: list[str] = []
    config = TrainConfig(
        model=str(tiny_model),
        out=str(tmp_path / "u"),
        max_steps=3,
        grad_accum=1,
        rank=4,
        alpha=8,
        merge=True,
        load_in_4bit=True,
    )
    report = run(config, rows, [], say=said.append)
    assert report["backend"] == "unsloth" and said[0] == "backend: unsloth (CUDA and Unsloth are available)"
    assert calls == [
        "from_pretrained 4bit=True max_seq_length=2048",  # 32768 clamped to the model's limit before loading
        "get_peft_model r=4 checkpointing=unsloth rslora=True",
        "save_pretrained_merged merged_16bit",
    ]
    assert "max_seq_length 32768 clamped to the model's limit, 2048" in said
    assert (tmp_path / "u" / "adapter" / "adapter_config.json").exists() and (
        tmp_path / "u" / "merged" / "config.json"
    ).exists()
