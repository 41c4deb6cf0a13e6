"""The portable backend: transformers + PEFT LoRA, trained by TRL's SFTTrainer (CPU or GPU)."""

from __future__ import annotations

from typing import Any


def load(config: Any) -> tuple[Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model)
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(config.model, dtype=dtype)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        use_rslora=config.rslora,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), tokenizer


def merge_and_save(model: Any, tokenizer: Any, folder: str) -> None:
    import torch

    merged = model.merge_and_unload()
    merged = merged.to(torch.bfloat16)  # a 16-bit merged model, as vLLM serves it
    merged.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
