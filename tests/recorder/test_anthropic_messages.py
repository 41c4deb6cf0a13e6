"""The Anthropic Messages dialect: streams reassembled against the non-streamed answer, and every translation rule."""

import json

import pytest

from recorder.dialects import by_name, dialect_for
from recorder.dialects.anthropic_messages import DIALECT
from recorder.dialects.base import DialectError
from recorder.sse import parse_all
from tests.support.scripted_calls import both_forms, scripted_url

WEATHER = {
    "name": "get_weather",
    "description": "Weather now",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
BILLING = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.0.14; cch=8c1f"}


async def test_streamed_answer_equals_the_non_streamed_one_through_a_tool_round():
    system = [
        BILLING,
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": " Be brief.", "cache_control": {"type": "ephemeral"}},
    ]
    first = {
        "model": "m",
        "max_tokens": 1024,
        "system": system,
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [WEATHER],
        "thinking": {"type": "enabled", "budget_tokens": 512},
    }
    async with scripted_url() as url:
        plain, streamed = await both_forms(url, "/v1/messages", first, DIALECT, **{"x-script-parallel": "2"})
        assert streamed.answer == plain and streamed.done and streamed.error is None
        assert [b["type"] for b in plain["content"]] == ["thinking", "tool_use", "tool_use"]
        canon = DIALECT.canonical(first, streamed.answer)
        assert canon.messages == [
            {"role": "system", "content": "You are Claude Code. Be brief."},
            {"role": "user", "content": "weather in Paris?"},
        ]
        assert canon.tools == [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather now",
                    "parameters": WEATHER["input_schema"],
                },
            }
        ]
        uses = plain["content"][1:]
        assert canon.answer == {
            "role": "assistant",
            "content": None,
            "reasoning_content": plain["content"][0]["thinking"],
            "tool_calls": [
                {
                    "id": u["id"],
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": json.dumps(u["input"])},
                }
                for u in uses
            ],
        }
        results = [
            {
                "type": "tool_result",
                "tool_use_id": u["id"],
                "content": [{"type": "text", "text": "sunny"}, {"type": "text", "text": "warm"}],
            }
            for u in uses
        ]
        second = {
            **first,
            "system": [{**BILLING, "text": BILLING["text"] + "0"}, *system[1:]],
            "messages": [
                *first["messages"],
                {"role": "assistant", "content": plain["content"]},
                {"role": "user", "content": results},
            ],
        }
        plain2, streamed2 = await both_forms(url, "/v1/messages", second, DIALECT)
        assert streamed2.answer == plain2 and plain2["stop_reason"] == "end_turn"
        canon2 = DIALECT.canonical(second, plain2)
        assert canon2.messages[:3] == [
            *canon.messages,
            canon.answer,
        ]  # a changed billing header does not change the conversation
        assert canon2.messages[3:] == [
            {"role": "tool", "tool_call_id": u["id"], "content": "sunny\nwarm"} for u in uses
        ]
        assert canon2.answer["content"] == "Here is what I found: sunny warm; sunny warm."


async def test_truncated_and_cut_streams():
    body = {"model": "m", "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}
    async with scripted_url() as url:
        plain, streamed = await both_forms(url, "/v1/messages", body, DIALECT, **{"x-script-truncate": "1"})
        assert streamed.answer == plain and DIALECT.completion(plain) == ("truncated", "stop_reason max_tokens")
        _, cut = await both_forms(url, "/v1/messages", body, DIALECT, **{"x-script-die-after": "5"})
    assert not cut.done and DIALECT.completion(cut.answer) == ("incomplete", "the answer has no stop_reason")
    assert cut.answer["content"] == [{"type": "thinking", "thinking": "The user "}]


def events(*payloads: dict) -> list:
    return parse_all([b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)])


def test_stream_with_redacted_thinking_text_citations_cache_usage_and_error():
    out = DIALECT.reassemble(
        events(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "claude",
                    "stop_reason": None,
                    "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1},
                },
            },
            {"type": "ping"},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "redacted_thinking", "data": "EmwK"}},
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "x"}},
            },
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
            {"type": "content_block_stop", "index": 1},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 12},
            },
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
    )
    assert out.answer["content"] == [
        {"type": "redacted_thinking", "data": "EmwK"},
        {"type": "text", "text": "Hello", "citations": [{"type": "char_location", "cited_text": "x"}]},
    ]
    assert out.error == "Overloaded" and not out.done
    assert DIALECT.usage(out.answer) == (100, 12) and DIALECT.completion(out.answer) == ("complete", None)
    assert DIALECT.canonical({"messages": []}, out.answer).answer == {
        "role": "assistant",
        "content": "Hello",
        "redacted_thinking": True,
    }


def test_every_translation_rule():
    png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
    url = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    search = {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "cats"}}
    doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}
    request = {
        "model": "claude",
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is this?"}, png]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Look ", "signature": "s1"},
                    {"type": "thinking", "thinking": "closer.", "signature": "s2"},
                    {"type": "redacted_thinking", "data": "EmwK"},
                    {"type": "text", "text": "Checking."},
                    search,
                    {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"zoom": 2, "city": "Zürich"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "shot", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "shot taken"}, url, {"type": "text", "text": "1 image"}],
                        "is_error": False,
                    },
                    {"type": "text", "text": "Is it cute?"},
                    doc,
                ],
            },
            {"role": "assistant", "content": "Yes."},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_3",
                        "content": [{"type": "text", "text": "only a result"}],
                    }
                ],
            },
        ],
        "tools": [WEATHER, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    }
    canon = DIALECT.canonical(request, None)
    assert canon.messages == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "reasoning_content": "Look closer.",
            "redacted_thinking": True,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"zoom": 2, "city": "Zürich"}'},
                },
                {"id": "toolu_2", "type": "function", "function": {"name": "shot", "arguments": "{}"}},
            ],
            "unmapped": [search],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "a cat"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "shot taken\n1 image"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                {"type": "text", "text": "Is it cute?"},
            ],
            "unmapped": [doc],
        },
        {"role": "assistant", "content": "Yes."},
        {"role": "tool", "tool_call_id": "toolu_3", "content": "only a result"},
    ]
    assert canon.tools[1] == request["tools"][1] and canon.answer is None and canon.model == "claude"


def test_registry_usage_errors_and_bad_requests():
    assert dialect_for("POST", "/v1/messages") is DIALECT and by_name("anthropic_messages") is DIALECT
    assert dialect_for("POST", "/v1/messages/count_tokens") is None
    assert DIALECT.usage({"usage": {"input_tokens": 5, "output_tokens": 7}}) == (5, 7)
    assert DIALECT.usage({}) == (None, None)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert (
        DIALECT.completion(error) == ("error", "Overloaded")
        and DIALECT.canonical({"messages": []}, error).answer is None
    )
    with pytest.raises(DialectError):
        DIALECT.canonical({"prompt": "hi"}, None)
