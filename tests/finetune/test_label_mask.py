"""The loss falls on assistant tokens only: reasoning, content and tool calls of the turn learned."""

from __future__ import annotations

import json

import pytest

from finetune.dataset.unroll import unroll
from finetune.train.template import TemplateError, encode, prompt_completion

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
CALLS = [
    {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}},
]
EPISODE = {
    "id": "7",
    "tools": TOOLS,
    "messages": [
        {"role": "system", "content": "SYSTEM-SECRET-PROMPT"},
        {"role": "user", "content": "USER-ASKS weather"},
        {"role": "assistant", "content": "", "reasoning_content": "FIRST-THOUGHT call twice", "tool_calls": CALLS},
        {"role": "tool", "tool_call_id": "a", "content": "TOOL-RESULT-PARIS"},
        {"role": "tool", "tool_call_id": "b", "content": "TOOL-RESULT-TOKYO"},
        {"role": "assistant", "content": "FINAL-ANSWER both fine", "reasoning_content": "SECOND-THOUGHT summarise"},
        {"role": "user", "content": "USER-AGAIN thanks"},
        {"role": "assistant", "content": "THIRD-ANSWER welcome", "reasoning_content": "THIRD-THOUGHT"},
    ],
}


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def learned_and_context(tokenizer, row) -> tuple[str, str]:
    example = encode(tokenizer, row["messages"], row["tools"], 100_000)
    learned = tokenizer.decode(
        [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label != -100]
    )
    context = tokenizer.decode(
        [t for t, label in zip(example["input_ids"], example["labels"], strict=True) if label == -100]
    )
    return learned, context


def test_each_unrolled_row_learns_exactly_its_last_assistant_turn(tokenizer):
    rows = list(unroll(EPISODE))
    assert [r["turn"] for r in rows] == [1, 2, 3]
    first, second, third = (learned_and_context(tokenizer, r) for r in rows)
    calls = "".join(
        f'<tool_call>\n{{"name": "get_weather", "arguments": {c["function"]["arguments"]}}}\n</tool_call>'
        for c in CALLS
    )
    assert (
        first[0]
        == "<think>\nFIRST-THOUGHT call twice\n</think>\n\n"
        + calls.replace("</tool_call><tool_call>", "</tool_call>\n<tool_call>")
        + "<|im_end|>"
    )
    assert second[0] == "<think>\nSECOND-THOUGHT summarise\n</think>\n\nFINAL-ANSWER both fine<|im_end|>"
    assert third[0] == "<think>\nTHIRD-THOUGHT\n</think>\n\nTHIRD-ANSWER welcome<|im_end|>"
    for learned, _context in (first, second, third):
        for marker in ("SYSTEM-SECRET-PROMPT", "USER-ASKS", "TOOL-RESULT", "USER-AGAIN", 'get_weather", "parameters'):
            assert marker not in learned  # system, user, tool and tool-list tokens never count
    assert "TOOL-RESULT-PARIS" in second[1] and "TOOL-RESULT-TOKYO" in second[1]
    # in the last row, earlier turns are context; their reasoning follows Qwen3's own rendering
    assert "FIRST-THOUGHT" in second[1] and "SECOND-THOUGHT" not in third[1]


def test_rows_that_do_not_end_with_an_assistant_turn_are_refused(tokenizer):
    with pytest.raises(TemplateError):
        prompt_completion(tokenizer, EPISODE["messages"][:4], TOOLS)
    assert (
        encode(tokenizer, EPISODE["messages"][:3], TOOLS, max_length=5) is None
    )  # nothing left to learn after truncation


def test_label_mask_matches_the_prompt_boundary_token_for_token(tokenizer):
    row = list(unroll(EPISODE))[1]
    prompt, completion = prompt_completion(tokenizer, row["messages"], TOOLS)
    example = encode(tokenizer, row["messages"], TOOLS, 100_000)
    n_prompt = sum(1 for label in example["labels"] if label == -100)
    assert tokenizer.decode(example["input_ids"][:n_prompt]) == prompt
    assert tokenizer.decode(example["input_ids"][n_prompt:]) == completion
    assert json.dumps(TOOLS[0]) in prompt
