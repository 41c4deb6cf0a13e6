"""Stream reassembly against the quirks real providers show."""

import json

import pytest

from recorder.dialects import by_name, dialect_for
from recorder.dialects.base import DialectError
from recorder.dialects.chat_completions import DIALECT, assemble
from recorder.sse import parse_all


def sse(*chunks: object) -> list:
    body = b"".join(
        (b": keep-alive\n\n" if c == ":" else f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n".encode()) for c in chunks
    )
    return parse_all([body])


def delta(d: dict, index: int = 0, finish: str | None = None) -> dict:
    return {"id": "c1", "model": "m", "created": 1, "choices": [{"index": index, "delta": d, "finish_reason": finish}]}


def test_content_reasoning_and_usage_from_vllm_style_stream():
    out = assemble(
        sse(
            delta({"role": "assistant", "content": ""}),
            delta({"reasoning": "Think "}),
            ":",
            delta({"reasoning": "hard."}),
            delta({"content": "Hi"}),
            delta({"content": " there"}, finish="stop"),
            {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
            "[DONE]",
        )
    )
    message = out.completion["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Hi there", "reasoning": "Think hard."}
    assert out.reasoning_field == "reasoning"
    assert out.completion["usage"]["completion_tokens"] == 4
    assert out.done and out.error is None


def test_parallel_tool_calls_with_repeated_ids_and_names_and_missing_index():
    call = lambda **f: {"tool_calls": [f]}  # noqa: E731
    out = assemble(
        sse(
            delta({"role": "assistant", "reasoning_content": "two calls"}),
            delta(call(index=0, id="a", type="function", function={"name": "get", "arguments": ""})),
            delta(call(index=0, id="a", type="function", function={"name": "get", "arguments": '{"x"'})),
            delta(call(index=1, id="b", type="function", function={"name": "get", "arguments": '{"x": 2}'})),
            delta(call(index=0, id="a", function={"name": "get", "arguments": ": 1}"})),
            # a fragment without an index continues the last call
            delta({"tool_calls": [{"function": {"arguments": ""}}]}, finish="tool_calls"),
        )
    )
    calls = out.completion["choices"][0]["message"]["tool_calls"]
    assert calls == [
        {"id": "a", "type": "function", "function": {"name": "get", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "get", "arguments": '{"x": 2}'}},
    ]
    assert out.completion["choices"][0]["message"]["content"] is None
    assert out.completion["choices"][0]["finish_reason"] == "tool_calls"


def test_index_less_fragments_with_new_ids_start_new_calls():
    out = assemble(
        sse(
            delta({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
            delta({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{"}}]}),
            delta({"tool_calls": [{"function": {"arguments": "}"}}]}),
        )
    )
    calls = out.completion["choices"][0]["message"]["tool_calls"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [("a", "f", "{}"), ("b", "g", "{}")]


def test_n_equals_two_keeps_choices_apart():
    out = assemble(
        sse(
            delta({"content": "A"}, index=0),
            delta({"content": "B"}, index=1),
            delta({"content": "a"}, index=0, finish="stop"),
            delta({"content": "b"}, index=1, finish="length"),
        )
    )
    got = [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out.completion["choices"]]
    assert got == [(0, "Aa", "stop"), (1, "Bb", "length")]


def test_error_event_after_200_is_recorded():
    out = assemble(sse(delta({"content": "par"}), {"error": {"message": "overloaded", "code": 503}}))
    assert "overloaded" in out.error
    assert out.completion["choices"][0]["message"]["content"] == "par"
    assert not out.done


def test_reasoning_sent_under_both_fields_is_not_doubled():
    # vLLM during its field rename streams the same text under both names, and its non-streamed
    # message carries both: each field must come out once.
    out = assemble(
        sse(
            delta({"role": "assistant", "content": ""}),
            delta({"reasoning_content": "Alright, let me", "reasoning": "Alright, let me"}),
            delta({"reasoning_content": " see.", "reasoning": " see."}),
            delta({"content": "Hi"}, finish="stop"),
            "[DONE]",
        )
    )
    message = out.completion["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "Hi",
        "reasoning_content": "Alright, let me see.",
        "reasoning": "Alright, let me see.",
    }
    assert DIALECT.canonical({"messages": []}, out.completion).answer == {
        "role": "assistant",
        "content": "Hi",
        "reasoning_content": "Alright, let me see.",
    }


def test_registry_finds_chat_by_path_and_name():
    assert dialect_for("POST", "/v1/chat/completions") is DIALECT
    assert dialect_for("POST", "/openai/v1/chat/completions/") is DIALECT
    assert dialect_for("GET", "/v1/chat/completions") is None
    assert dialect_for("POST", "/v1/models") is None
    assert by_name("chat_completions") is DIALECT and by_name("nope") is None


def test_completion_states():
    def answer(finish):
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": finish}]}

    assert DIALECT.completion(answer("stop")) == ("complete", None)
    assert DIALECT.completion(answer("tool_calls")) == ("complete", None)
    assert DIALECT.completion(answer("length"))[0] == "truncated"
    assert DIALECT.completion(answer(None))[0] == "incomplete"
    assert DIALECT.completion({"error": {"message": "overloaded"}}) == ("error", "overloaded")
    assert DIALECT.usage({"usage": {"prompt_tokens": 3, "completion_tokens": 4}}) == (3, 4)
    assert DIALECT.usage({}) == (None, None)


def test_canonical_keeps_request_as_sent_and_normalises_the_answer_reasoning():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    request = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }
    completion = {"choices": [{"message": {"content": "a cat", "reasoning": "looks like a cat"}, "finish_reason": "stop"}]}
    canon = DIALECT.canonical(request, completion)
    assert canon.messages == request["messages"] and canon.tools == request["tools"] and canon.model == "m"
    assert canon.answer == {"role": "assistant", "content": "a cat", "reasoning_content": "looks like a cat"}
    assert DIALECT.canonical(request, None).answer is None
    with pytest.raises(DialectError):
        DIALECT.canonical({"input": "hi"}, None)
