"""The SFT loop shared by both backends: TRL's SFTTrainer on pre-tokenized rows whose labels
already mask everything but the assistant's tokens; progress as steps, loss, tokens/s and ETA."""

from __future__ import annotations

import time
from typing import Any


def _progress_callback(say: Any, tokens_per_step: float) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """One line per log: step, loss, tokens/s, ETA."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.t0 = time.perf_counter()

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any
        ) -> None:
            logs = logs or {}
            elapsed = max(time.perf_counter() - self.t0, 1e-9)
            step, total = state.global_step, state.max_steps or 1
            seen = step * tokens_per_step
            eta = elapsed / max(step, 1) * (total - step)
            parts = [f"step {step}/{total}"]
            if "loss" in logs:
                parts.append(f"loss {logs['loss']:.4f}")
            if "eval_loss" in logs:
                parts.append(f"eval_loss {logs['eval_loss']:.4f}")
            parts += [f"{seen / elapsed:.0f} tokens/s", f"ETA {eta:.0f}s"]
            say("  ".join(parts))

    return Progress()


def train_model(
    model: Any, tokenizer: Any, train: list[dict[str, Any]], held: list[dict[str, Any]], config: Any, say: Any
) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]  # trl exports them lazily

    cuda = torch.cuda.is_available()
    report_to = [] if config.report_to in ("none", "") else [config.report_to]
    if "tensorboard" in report_to:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise RuntimeError("--report-to tensorboard needs tensorboard: pip install tensorboard") from None
    args = SFTConfig(
        output_dir=str(config.out),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        lr_scheduler_type=config.scheduler,
        warmup_steps=0,
        optim="adamw_8bit" if cuda else "adamw_torch",
        gradient_checkpointing=cuda and config.backend != "unsloth",  # Unsloth brings its own
        bf16=cuda and torch.cuda.is_bf16_supported(),
        logging_steps=config.logging_steps,
        eval_strategy="steps" if held else "no",
        eval_steps=config.eval_steps,
        save_strategy="no",
        report_to=report_to,
        seed=config.seed,
        max_length=config.max_seq_length,
        use_cpu=not cuda,
        dataloader_pin_memory=cuda,
        disable_tqdm=True,
    )
    tokens = [len(row["input_ids"]) for row in train]
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(held) if held else None,
        processing_class=tokenizer,
        callbacks=[_progress_callback(say, sum(tokens) / len(tokens) * config.batch_size * config.grad_accum)],
    )
    t0 = time.perf_counter()
    output = trainer.train()
    train_s = time.perf_counter() - t0
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    losses = {
        "first": history[0]["loss"] if history else None,
        "final": history[-1]["loss"] if history else None,
        "mean": output.training_loss,
        "history": [round(entry["loss"], 5) for entry in history],
    }
    if held:
        losses["eval"] = trainer.evaluate()["eval_loss"]
    steps = trainer.state.global_step
    seen = sum(tokens[i % len(tokens)] for i in range(steps * config.grad_accum * config.batch_size))
    return {
        "losses": losses,
        "train_s": round(train_s, 2),
        "tokens": seen,
        "tokens_per_s": round(seen / max(train_s, 1e-9), 1),
    }
