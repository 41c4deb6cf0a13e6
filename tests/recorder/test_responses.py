"""The Responses dialect: streams reassembled against the non-streamed answer, and every translation rule."""

import json

import pytest

from recorder.dialects import by_name, dialect_for
from recorder.dialects.base import DialectError
from recorder.dialects.responses import DIALECT
from recorder.dialects.responses_stream import STREAM_IDS
from recorder.sse import parse_all
from tests.support.scripted_calls import both_forms, scripted_url

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}


def without_stream_ids(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != STREAM_IDS}


async def test_streamed_answer_equals_the_non_streamed_one_and_keeps_both_id_sets():
    first = {"model": "m", "instructions": "Be brief.", "input": "weather in Paris?", "tools": [WEATHER]}
    async with scripted_url() as url:
        plain, streamed = await both_forms(url, "/v1/responses", first, DIALECT, **{"x-script-parallel": "2"})
        assert without_stream_ids(streamed.answer) == plain and streamed.done and streamed.error is None
        assert [i["type"] for i in plain["output"]] == ["reasoning", "function_call", "function_call"]
        # vLLM streams other ids than response.completed carries; both sets are kept
        ids = streamed.answer[STREAM_IDS]
        completed = [c["call_id"] for c in plain["output"][1:]]
        assert set(completed) <= set(ids) and all(ids[c].startswith("call_") for c in completed)
        canon = DIALECT.canonical(first, streamed.answer)
        assert canon.messages == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "weather in Paris?"},
        ]
        assert canon.tools == [
            {"type": "function", "function": {k: WEATHER[k] for k in ("name", "description", "parameters", "strict")}}
        ]
        assert canon.answer["reasoning_content"] == plain["output"][0]["content"][0]["text"]
        assert [c["id"] for c in canon.answer["tool_calls"]] == completed
        assert canon.alt_call_ids == {c: ids[c] for c in completed} and canon.response_id == plain["id"]
        codex_view = canon.answer_variants()[1]  # the answer as a client that keeps streamed ids sends it back
        assert [c["id"] for c in codex_view["tool_calls"]] == [ids[c] for c in completed]
        # the next turn, as the openai SDK sends it: the completed items plus the tool outputs
        outputs = [{"type": "function_call_output", "call_id": c, "output": "sunny"} for c in completed]
        second = {**first, "input": [{"role": "user", "content": "weather in Paris?"}, *plain["output"], *outputs]}
        plain2, streamed2 = await both_forms(url, "/v1/responses", second, DIALECT)
        assert without_stream_ids(streamed2.answer) == plain2
        canon2 = DIALECT.canonical(second, plain2)
        assert canon2.messages[2] == canon.answer  # the resent turn translates to the recorded answer
        assert canon2.messages[3:] == [{"role": "tool", "tool_call_id": c, "content": "sunny"} for c in completed]
        assert canon2.answer["content"] == "Here is what I found: sunny; sunny."
        # stateful chaining: only the new items, naming the earlier response
        third = {"model": "m", "previous_response_id": plain["id"], "input": outputs, "tools": [WEATHER]}
        plain3, _ = await both_forms(url, "/v1/responses", third, DIALECT)
        canon3 = DIALECT.canonical(third, plain3)
        assert canon3.previous_response_id == plain["id"] and canon3.messages == canon2.messages[3:]


async def test_same_ids_when_the_upstream_streams_completed_ids():
    async with scripted_url(stream_ids_differ=False) as url:
        plain, streamed = await both_forms(
            url, "/v1/responses", {"model": "m", "input": "hi", "tools": [WEATHER]}, DIALECT
        )
    assert streamed.answer == plain and DIALECT.canonical({"input": "hi"}, plain).alt_call_ids == {}


async def test_truncated_and_cut_streams_and_unknown_previous_response():
    body = {"model": "m", "input": "hi", "tools": [WEATHER]}
    async with scripted_url() as url:
        plain, streamed = await both_forms(url, "/v1/responses", body, DIALECT, **{"x-script-truncate": "1"})
        assert without_stream_ids(streamed.answer) == plain and streamed.done
        assert DIALECT.completion(plain) == ("truncated", "incomplete: max_output_tokens")
        _, cut = await both_forms(url, "/v1/responses", body, DIALECT, **{"x-script-die-after": "6"})
        assert not cut.done and DIALECT.completion(cut.answer) == ("incomplete", "response status in_progress")
        assert cut.answer["output"][0]["content"][0]["text"] == "The user "  # what was streamed so far
        with pytest.raises(AssertionError, match="not found"):
            await both_forms(url, "/v1/responses", {**body, "previous_response_id": "resp_nope"}, DIALECT)


def events(*payloads: dict) -> list:
    return parse_all([b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)])


def test_failed_response_and_error_events_are_the_exchange_error():
    failed = DIALECT.reassemble(
        events(
            {"type": "response.created", "response": {"id": "r1", "status": "in_progress", "output": []}},
            {
                "type": "response.failed",
                "response": {
                    "id": "r1",
                    "status": "failed",
                    "output": [],
                    "error": {"code": "server_error", "message": "engine died"},
                },
            },
        )
    )
    assert (
        failed.done and failed.error == "engine died" and DIALECT.completion(failed.answer) == ("error", "engine died")
    )
    errored = DIALECT.reassemble(
        events(
            {"type": "response.created", "response": {"id": "r1", "status": "in_progress", "output": []}},
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "message", "id": "m", "role": "assistant", "content": []},
            },
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "content_index": 0,
                "item_id": "m",
                "delta": "par",
            },
            {"type": "error", "code": "overloaded", "message": "overloaded", "param": None},
        )
    )
    assert errored.error == "overloaded" and not errored.done
    assert DIALECT.canonical({"input": "x"}, errored.answer).answer["content"] == "par"


def test_summary_deltas_refusals_and_custom_tool_input_are_rebuilt():
    out = DIALECT.reassemble(
        events(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "reasoning", "id": "r", "summary": []},
            },
            {
                "type": "response.reasoning_summary_part.added",
                "output_index": 0,
                "summary_index": 0,
                "item_id": "r",
                "part": {"type": "summary_text", "text": ""},
            },
            {
                "type": "response.reasoning_summary_text.delta",
                "output_index": 0,
                "summary_index": 0,
                "item_id": "r",
                "delta": "Plan.",
            },
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {"type": "custom_tool_call", "id": "c", "call_id": "k", "name": "patch", "input": ""},
            },
            {"type": "response.custom_tool_call_input.delta", "output_index": 1, "item_id": "c", "delta": "*** Begin"},
            {"type": "response.custom_tool_call_input.delta", "output_index": 1, "item_id": "c", "delta": " Patch"},
        )
    )
    answer = DIALECT.canonical({"input": "x"}, out.answer).answer
    assert answer == {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Plan.",
        "tool_calls": [{"id": "k", "type": "function", "function": {"name": "patch", "arguments": "*** Begin Patch"}}],
    }


def call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_every_translation_rule():
    image = {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"}
    web = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "cats"},
    }
    earlier = {
        "id": "resp_0",
        "output": [{"type": "function_call", "id": "fc_9", "call_id": "call_9", "name": "look", "arguments": "{}"}],
    }
    request = {
        "model": "m",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "Use tools."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is this?"}, image]},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "ignored"}],
                "content": [{"type": "reasoning_text", "text": "Look."}],
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
            },
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "look", "arguments": '{"x": 1}'},
            web,
            {
                "type": "custom_tool_call",
                "id": "ct_1",
                "call_id": "call_2",
                "name": "patch",
                "input": "*** Begin Patch",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "a cat"},
            {"type": "custom_tool_call_output", "call_id": "call_2", "output": "patched"},
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [{"type": "summary_text", "text": "First."}, {"type": "summary_text", "text": "Second."}],
            },
            {
                "type": "local_shell_call",
                "id": "ls_1",
                "call_id": "call_3",
                "action": {"type": "exec", "command": ["ls"], "env": {}},
                "status": "completed",
            },
            {"type": "local_shell_call_output", "id": "call_3", "output": "a.txt"},
            {"type": "item_reference", "id": "fc_9"},
            {"type": "function_call_output", "call_id": "call_9", "output": [{"type": "input_text", "text": "seen"}]},
            {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "gAAAA"},
            {"type": "function_call", "id": "fc_4", "call_id": "call_4", "name": "look", "arguments": "{}"},
            {"type": "item_reference", "id": "fc_unknown"},
            {"type": "mcp_approval_response", "approval_request_id": "a1", "approve": True},
        ],
        "tools": [WEATHER, {"type": "web_search"}],
    }
    canon = DIALECT.canonical(request, None, lookup=lambda item_id: earlier if item_id == "fc_9" else None)
    assert canon.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use tools."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": image["image_url"], "detail": "high"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "reasoning_content": "Look.",
            "tool_calls": [call("call_1", "look", '{"x": 1}'), call("call_2", "patch", "*** Begin Patch")],
            "unmapped": [web],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "tool", "tool_call_id": "call_2", "content": "patched"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "First.\n\nSecond.",
            "tool_calls": [call("call_3", "local_shell", '{"type": "exec", "command": ["ls"], "env": {}}')],
        },
        {"role": "tool", "tool_call_id": "call_3", "content": "a.txt"},
        {"role": "assistant", "content": None, "tool_calls": [call("call_9", "look", "{}")]},
        {"role": "tool", "tool_call_id": "call_9", "content": [{"type": "text", "text": "seen"}]},
        {
            "role": "assistant",
            "content": None,
            "redacted_thinking": True,
            "tool_calls": [call("call_4", "look", "{}")],
            "unmapped": [
                {"type": "item_reference", "id": "fc_unknown"},
                {"type": "mcp_approval_response", "approval_request_id": "a1", "approve": True},
            ],
        },
    ]
    assert canon.tools[1] == {"type": "web_search"} and canon.answer is None and canon.model == "m"


def test_item_reference_by_a_streamed_id_finds_the_completed_item():
    earlier = {
        "output": [
            {"type": "function_call", "id": "fc_1", "call_id": "chatcmpl-tool-1", "name": "f", "arguments": "{}"}
        ],
        STREAM_IDS: {"fc_1": "abc", "chatcmpl-tool-1": "call_abc"},
    }
    canon = DIALECT.canonical({"input": [{"type": "item_reference", "id": "abc"}]}, None, lambda _: earlier)
    assert canon.messages[0]["tool_calls"][0]["id"] == "chatcmpl-tool-1"


def test_registry_usage_and_bad_requests():
    assert dialect_for("POST", "/v1/responses") is DIALECT and by_name("responses") is DIALECT
    assert (
        dialect_for("GET", "/v1/responses/resp_1") is None
        and dialect_for("POST", "/v1/responses/resp_1/cancel") is None
    )
    assert DIALECT.usage({"usage": {"input_tokens": 5, "output_tokens": 7}}) == (5, 7)
    assert DIALECT.completion({"status": "completed"}) == ("complete", None)
    with pytest.raises(DialectError):
        DIALECT.canonical({"input": 3}, None)
    assert DIALECT.canonical({"input": []}, {"status": "failed", "output": []}).answer is None
