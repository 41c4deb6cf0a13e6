"""`tracemill finetune`: LoRA SFT on recorded traces, loss on assistant tokens only.

Defaults follow the reference workshop for Qwen3-4B: rank 32, alpha 32, rsLoRA, dropout 0,
constant learning rate 2e-4, 1 epoch, batch 1 x 8 accumulation, 8-bit AdamW and gradient
checkpointing on CUDA, max_seq_length 32768 clamped to the model's limit.
"""

from __future__ import annotations

import json
import platform
import time
import tomllib
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from finetune.train.backends import select

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainConfig:
    model: str = ""
    out: str = ""
    rank: int = 32
    alpha: int = 32
    rslora: bool = True
    dropout: float = 0.0
    lr: float = 2e-4
    scheduler: str = "constant"
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 1
    grad_accum: int = 8
    max_seq_length: int = 32768
    eval_split: float = 0.0
    eval_steps: int = 50
    logging_steps: int = 1
    seed: int = 3407
    load_in_4bit: bool = False
    backend: str = "auto"
    report_to: str = "none"
    merge: bool = False
    target_modules: tuple[str, ...] = TARGET_MODULES
    unroll: str = "assistant"
    exact_tokens: bool = False  # rows are token ids (export --format tokens): no template
    stitch: bool = False  # with exact_tokens: one row per episode


class TrainError(RuntimeError):
    """A run that cannot start, in one line."""


def from_toml(path: str | Path) -> dict[str, Any]:
    """The [finetune] table of a TOML file, with keys named like the flags (dashes or underscores)."""
    data = tomllib.loads(Path(path).read_text())
    table = data.get("finetune", {})
    if not isinstance(table, dict):
        raise TrainError(f"{path}: [finetune] must be a table")
    known = {f.name for f in fields(TrainConfig)}
    out = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise TrainError(f"{path}: unknown key finetune.{key} (known: {', '.join(sorted(known))})")
        out[name] = value
    return out


def tokenized(tokenizer: Any, rows: list[dict[str, Any]], max_length: int) -> tuple[list[dict[str, Any]], int]:
    """(examples, rows skipped): each example is input_ids + labels with the assistant-only mask."""
    from finetune.train.template import TemplateError, encode

    examples, skipped = [], 0
    for row in rows:
        try:
            example = encode(tokenizer, row["messages"], row.get("tools"), max_length)
        except TemplateError:
            example = None
        if example is None:
            skipped += 1
        else:
            examples.append(example)
    return examples, skipped


def prepared(config: TrainConfig, tokenizer: Any, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Examples and rows skipped: token rows as they are with --exact-tokens, else through the template."""
    if config.exact_tokens:
        from finetune.train.exact import examples

        made, skipped = examples(rows, config.max_seq_length)
        return list(made), skipped
    return tokenized(tokenizer, rows, config.max_seq_length)


def model_limit(name: str) -> int | None:
    """The model's context limit from its config.json, read without importing transformers
    (Unsloth must be imported first)."""
    path = Path(name) / "config.json"
    try:
        if not path.exists():
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(name, "config.json"))
        config = json.loads(path.read_text())
    except Exception:
        return None
    config = config.get("text_config", config)
    limit = config.get("max_position_embeddings")
    return limit if isinstance(limit, int) else None


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "unsloth"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def run(
    config: TrainConfig, rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]], say: Any = print
) -> dict[str, Any]:
    backend, why = select(config.backend)
    say(f"backend: {backend} ({why})")
    started = time.time()
    if backend == "unsloth":
        from finetune.train.backends import unsloth_backend as chosen
    else:
        from finetune.train.backends import trl_backend as chosen  # type: ignore[no-redef]
    limit = model_limit(config.model)
    if limit and config.max_seq_length > limit:
        say(f"max_seq_length {config.max_seq_length} clamped to the model's limit, {limit}")
        config.max_seq_length = limit
    model, tokenizer = chosen.load(config)
    train, skipped = prepared(config, tokenizer, rows)
    held, held_skipped = prepared(config, tokenizer, eval_rows)
    if not train:
        raise TrainError(f"no trainable rows ({skipped} skipped: too long, or not ending in an assistant turn)")
    say(f"data: {len(train)} training rows, {len(held)} eval rows, {skipped + held_skipped} skipped")
    from finetune.train.sft import train_model

    result = train_model(model, tokenizer, train, held, config, say)
    out = Path(config.out)
    adapter = out / "adapter"
    model.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    tokenizer.save_pretrained(out)
    if config.merge:
        chosen.merge_and_save(model, tokenizer, str(out / "merged"))
    report = {
        "backend": backend,
        "backend_reason": why,
        "config": asdict(config),
        "data": {
            "train_rows": len(train),
            "eval_rows": len(held),
            "skipped": skipped + held_skipped,
            "train_tokens": result["tokens"],
        },
        "versions": versions(),
        "timings": {
            "total_s": round(time.time() - started, 2),
            "train_s": result["train_s"],
            "tokens_per_s": result["tokens_per_s"],
        },
        "losses": result["losses"],
        "outputs": {"adapter": str(adapter), "merged": str(out / "merged") if config.merge else None},
    }
    (out / "run.json").write_text(json.dumps(report, indent=2))
    return report
