"""vLLM's token-id fields: asking for them without parsing, and taking them back out."""

from __future__ import annotations

import json

from recorder.dialects.token_collect import check, collect, parse_stream
from recorder.dialects.token_ids import CHAT, COMPLETIONS, StreamStripper, inject, kind_of, null_ids, strip_body

IDS = ("return_token_ids",)
BOTH = ("return_token_ids", "logprobs")


def test_paths_that_can_carry_ids():
    assert kind_of("POST", "/v1/chat/completions") == CHAT and kind_of("POST", "/v1/completions/") == COMPLETIONS
    assert kind_of("GET", "/v1/chat/completions") is None and kind_of("POST", "/v1/responses") is None


def test_inject_splices_after_the_brace_and_keeps_the_clients_bytes():
    body = b'  {"model": "m",\n "messages": []}'
    sent, names = inject(body, CHAT, logprobs=True)
    assert sent == b'  {"return_token_ids":true,"logprobs":true,"model": "m",\n "messages": []}'
    assert (
        json.loads(sent) == {"return_token_ids": True, "logprobs": True, "model": "m", "messages": []} and names == BOTH
    )
    assert inject(b"{}", CHAT, False) == (b'{"return_token_ids":true}', IDS)
    assert inject(b'{"prompt": "x"}', COMPLETIONS, True)[0] == b'{"return_token_ids":true,"logprobs":0,"prompt": "x"}'


def test_inject_leaves_what_the_client_set_and_what_is_not_an_object():
    assert inject(b'{"return_token_ids": false, "logprobs": false}', CHAT, True) == (
        b'{"return_token_ids": false, "logprobs": false}',
        (),
    )
    assert inject(b"[1, 2]", CHAT, True) == (b"[1, 2]", ()) and inject(b"not json", CHAT, True) == (b"not json", ())
    quoted = b'{"messages": [{"content": "say \\"return_token_ids\\""}]}'  # inside a string: not the key
    assert inject(quoted, CHAT, False)[1] == IDS


def test_whole_bodies_get_nulls_back_in_their_own_style():
    spaced = json.dumps(
        {"choices": [{"index": 0, "token_ids": [1], "logprobs": {"content": []}}], "prompt_token_ids": [5]}
    ).encode()
    assert (
        strip_body(spaced, CHAT, BOTH)
        == json.dumps(
            {"choices": [{"index": 0, "token_ids": None, "logprobs": None}], "prompt_token_ids": None}
        ).encode()
    )
    compact = '{"choices":[{"text":"é","token_ids":[1]}]}'.encode()
    assert strip_body(compact, COMPLETIONS, IDS) == '{"choices":[{"text":"é","token_ids":null}]}'.encode()
    assert strip_body(b"oops", CHAT, IDS) == b"oops"


def chunk(delta: dict, ids: list[int] | None, finish: str | None = None, **top) -> bytes:
    return (
        b"data: "
        + json.dumps(
            {"choices": [{"index": 0, "delta": delta, "finish_reason": finish, "token_ids": ids}], **top},
            separators=(",", ":"),
        ).encode()
        + b"\n\n"
    )


def test_streams_lose_ids_only_chunks_keep_events_whole_and_pass_the_rest_untouched():
    role = chunk({"role": "assistant", "content": ""}, None, prompt_token_ids=[1, 2])
    think = chunk({}, [3])
    text = chunk({"content": "Hi"}, [4])
    end = chunk({}, [5], "stop")
    plain = b": keep-alive\r\n\r\ndata: [DONE]\r\n\r\n"
    stream = role + think + text + end + plain
    stripper = StreamStripper(CHAT, IDS)
    out = b"".join(stripper.feed(stream[i : i + 7]) for i in range(0, len(stream), 7)) + stripper.close()
    assert out == (
        chunk({"role": "assistant", "content": ""}, None, prompt_token_ids=None)
        + chunk({"content": "Hi"}, None)
        + chunk({}, None, "stop")
        + plain
    )
    assert StreamStripper(CHAT, IDS).feed(b'data: {"token_ids": [1]') == b""  # half an event waits for its end


def test_ids_are_collected_per_choice_and_gaps_are_named():
    stream = (
        chunk({"role": "assistant", "content": ""}, None, prompt_token_ids=[1, 2])
        + chunk({}, [3])
        + chunk({"content": "Hi"}, None)
        + chunk({"content": "!"}, [4], "stop")
        + b'data: {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}\n\ndata: [DONE]\n\n'
    )
    choices, usage = collect(CHAT, parse_stream(stream), stream=True)
    check(choices, usage)
    assert choices[0].prompt_ids == [1, 2] and choices[0].completion_ids == [3, 4]
    assert choices[0].problems == [
        "chunk 2 carried text but no token_ids",
        "usage says 3 completion tokens, 2 ids came",
    ]
    whole = {
        "prompt_token_ids": [1],
        "choices": [{"index": 0, "token_ids": [7, 8], "logprobs": {"content": [{"logprob": -0.5}]}}],
    }
    choices, usage = collect(CHAT, [whole], stream=False)
    check(choices, usage)
    assert choices[0].completion_ids == [7, 8] and choices[0].problems == ["1 logprobs for 2 ids"]


def test_ids_become_null_by_a_byte_scan_that_leaves_everything_else_alone():
    body = b'{"a": "say \\"token_ids\\": [1]", "token_ids" : [1, 2],"prompt_token_ids":[3],"x":"token_ids", "n": [4]}'
    assert (
        null_ids(body)
        == b'{"a": "say \\"token_ids\\": [1]", "token_ids" : null,"prompt_token_ids":null,"x":"token_ids", "n": [4]}'
    )
    assert null_ids(b'{"token_ids":[1') == b'{"token_ids":[1'  # cut short: left as it came
    assert null_ids(b'{"token_ids":["a"]}') == b'{"token_ids":["a"]}'  # not ids
    assert null_ids(b"plain") == b"plain"
