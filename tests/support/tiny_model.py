"""A tiny random Qwen3 and a byte-level BPE tokenizer trained on the spot, with the Qwen3-style
chat template: enough to render, train and generate on the CPU in seconds. No downloads."""

from __future__ import annotations

import json
from pathlib import Path

from finetune.train.template import QWEN3_TEMPLATE, SPECIAL_TOKENS

CORPUS = [
    "The weather in Paris is 18°C with light rain. Tokyo is 24°C and clear.",
    '{"name": "get_weather", "arguments": {"city": "Paris"}} {"message": "hello"} {"a": 2, "b": 3}',
    "I should call the tool to find out. I have what I need, so I can answer now.",
    "system user assistant tool function arguments name type object properties string required",
    "Echo: hello. The sum of 2 and 3 is 5. Here is what I found:",
] * 20


def build(folder: Path, vocab_size: int = 600) -> Path:
    """Save a tokenizer and a ~100k-parameter Qwen3 to `folder`; returns it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=QWEN3_TEMPLATE,
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.save_pretrained(folder)
    config = Qwen3Config(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(folder)
    (folder / "tracemill-fixture.json").write_text(
        json.dumps({"parameters": sum(p.numel() for p in model.parameters())})
    )
    return folder
