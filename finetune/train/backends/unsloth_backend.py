"""The Unsloth backend: FastLanguageModel loading (4-bit optional) and Unsloth's LoRA with its
gradient checkpointing. Imported only after `select()` chose it, and before transformers."""

from __future__ import annotations

from typing import Any


def load(config: Any) -> tuple[Any, Any]:
    import unsloth  # noqa: F401  (must come before transformers, trl and peft)
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=config.model, max_seq_length=config.max_seq_length, load_in_4bit=config.load_in_4bit, dtype=None
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        bias="none",
        use_gradient_checkpointing="unsloth",
        random_state=config.seed,
        use_rslora=config.rslora,
    )
    return model, tokenizer


def merge_and_save(model: Any, tokenizer: Any, folder: str) -> None:
    model.save_pretrained_merged(folder, tokenizer, save_method="merged_16bit")
