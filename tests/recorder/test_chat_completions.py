"""Stream reassembly against the quirks real providers show."""

import json

import pytest

from recorder.dialects import by_name, dialect_for
from recorder.dialects.base import DialectError
from recorder.dialects.chat_completions import DIALECT, assemble
from recorder.sse import parse_all
from tests.support.scripted_calls import both_forms, scripted_url


def sse(*chunks: object) -> list:
    body = b"".join(
        (b": keep-alive\n\n" if c == ":" else f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n".encode())
        for c in chunks
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
    def call(**fragment: object) -> dict:
        return {"tool_calls": [fragment]}

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
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("a", "f", "{}"),
        ("b", "g", "{}"),
    ]


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
    completion = {
        "choices": [{"message": {"content": "a cat", "reasoning": "looks like a cat"}, "finish_reason": "stop"}]
    }
    canon = DIALECT.canonical(request, completion)
    assert canon.messages == request["messages"] and canon.tools == request["tools"] and canon.model == "m"
    assert canon.answer == {"role": "assistant", "content": "a cat", "reasoning_content": "looks like a cat"}
    assert DIALECT.canonical(request, None).answer is None
    with pytest.raises(DialectError):
        DIALECT.canonical({"input": "hi"}, None)


CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both"])
async def test_streamed_answer_equals_the_non_streamed_one_for_each_reasoning_field(field):
    first = {
        "model": "m",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": CHAT_TOOLS,
        "stream_options": {"include_usage": True},
    }
    async with scripted_url(reasoning_field=field) as url:
        plain, streamed = await both_forms(url, "/v1/chat/completions", first, DIALECT, **{"x-script-parallel": "2"})
        assert streamed.answer == plain and streamed.done and streamed.error is None
        message = plain["choices"][0]["message"]
        assert len(message["tool_calls"]) == 2
        names = ["reasoning_content", "reasoning"] if field == "both" else [field]
        assert [k for k in ("reasoning_content", "reasoning") if k in message] == names
        canon = DIALECT.canonical(first, streamed.answer).answer
        assert canon["reasoning_content"] == message[names[0]] and "reasoning" not in canon
        second = {
            **first,
            "messages": [
                *first["messages"],
                message,
                {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "sunny"},
            ],
        }
        plain, streamed = await both_forms(url, "/v1/chat/completions", second, DIALECT)
        assert streamed.answer == plain and plain["choices"][0]["message"]["content"] == "Here is what I found: sunny."


async def test_deterministic_upstream_repeats_answers_and_a_sampling_one_does_not():
    body = {"model": "m", "messages": [{"role": "user", "content": "weather?"}], "tools": CHAT_TOOLS}
    for deterministic in (True, False):
        async with scripted_url(deterministic=deterministic) as url:
            a, _ = await both_forms(url, "/v1/chat/completions", body, DIALECT)
            b, _ = await both_forms(url, "/v1/chat/completions", body, DIALECT)
        same = a["choices"][0]["message"] == b["choices"][0]["message"]
        assert same is deterministic, deterministic


async def test_truncated_and_cut_streams_have_their_completion_states():
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": CHAT_TOOLS,
        "stream_options": {"include_usage": True},
    }
    async with scripted_url() as url:
        plain, streamed = await both_forms(url, "/v1/chat/completions", body, DIALECT, **{"x-script-truncate": "1"})
        assert streamed.answer == plain and DIALECT.completion(plain) == ("truncated", "finish_reason length")
        _, cut = await both_forms(url, "/v1/chat/completions", body, DIALECT, **{"x-script-die-after": "4"})
    assert not cut.done and DIALECT.completion(cut.answer)[0] == "incomplete"
