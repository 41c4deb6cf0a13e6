"""Token capture through the real relay: the upstream gets return_token_ids, the client sees what it
would have seen without it, and the store holds the ids the upstream sent."""

from __future__ import annotations

import json

import httpx2
import pytest

from proxy.fakes.demo import TOOLS
from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from recorder.ingest.token_rows import unpack_floats, unpack_ids
from tests.support.cli import tm
from tests.support.serving import proxy_for
from tests.support.store_rows import Canned, rows, wait_rows

MESSAGES = [{"role": "user", "content": "What's the weather in Paris?"}]
TOKENS_SQL = "SELECT * FROM exchange_tokens ORDER BY rowid"


async def post(url: str, payload: dict, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as client:
        return await client.post(url, json=payload, headers=headers)


@pytest.fixture
async def token_upstream(tiny_model):
    upstream = ScriptedUpstream(Script(tokenizer=str(tiny_model)))
    async with running(upstream) as url:
        yield url, upstream


@pytest.mark.parametrize("logprobs", [False, True])
@pytest.mark.parametrize("stream", [False, True])
async def test_client_sees_the_bytes_it_would_have_seen_and_the_store_holds_the_upstreams_ids(
    tmp_path, token_upstream, stream, logprobs
):
    up, upstream = token_upstream
    db = tmp_path / "t.db"
    payload = (
        {
            "model": "q",
            "messages": MESSAGES,
            "tools": TOOLS,
            "stream": stream,
            "stream_options": {"include_usage": True},
        }
        if stream
        else {"model": "q", "messages": MESSAGES, "tools": TOOLS}
    )
    async with proxy_for(up, db, capture_tokens=True, capture_logprobs=logprobs) as (proxy, _):
        direct = await post(up + "/v1/chat/completions", payload)
        proxied = await post(proxy + "/v1/chat/completions", payload)
        asked = upstream.requests[-1]
        truth = await post(up + "/v1/chat/completions", {**payload, "return_token_ids": True, "logprobs": True})
        (exchange,) = await wait_rows(db, 1)
        (tokens,) = await wait_rows(db, 1, TOKENS_SQL)
    assert proxied.status_code == 200 and proxied.content == direct.content  # byte for byte
    assert asked["return_token_ids"] is True and ("logprobs" in asked) == logprobs
    assert b'token_ids": [' not in proxied.content and b'"logprobs": {' not in proxied.content
    if stream:
        chunks = [json.loads(line[6:]) for line in truth.text.splitlines() if line.startswith("data: {")]
        prompt = next(c["prompt_token_ids"] for c in chunks if c.get("prompt_token_ids"))
        completion = [i for c in chunks for ch in c["choices"] for i in ch.get("token_ids") or []]
        lps = [
            e["logprob"] for c in chunks for ch in c["choices"] for e in (ch.get("logprobs") or {}).get("content") or []
        ]
        assert any(
            ch["delta"] == {} and ch["finish_reason"] is None for c in chunks for ch in c["choices"]
        )  # ids-only chunks exist upstream
    else:
        body = truth.json()
        prompt, completion = body["prompt_token_ids"], body["choices"][0]["token_ids"]
        lps = [e["logprob"] for e in body["choices"][0]["logprobs"]["content"]]
    assert tokens["status"] == "captured" and tokens["detail"] is None
    assert unpack_ids(tokens["prompt_ids"]) == prompt and unpack_ids(tokens["completion_ids"]) == completion
    assert tokens["prompt_len"] == len(prompt) and tokens["completion_len"] == len(completion)
    assert tokens["exchange_uid"] == exchange["uid"]
    assert tokens["injected"] == ("return_token_ids,logprobs" if logprobs else "return_token_ids")
    assert unpack_floats(tokens["logprobs"]) == (pytest.approx(lps, abs=1e-4) if logprobs else None)
    recorded = json.loads(exchange["response_json"])
    assert "prompt_token_ids" not in json.dumps(recorded).replace('"prompt_token_ids": null', "")
    assert all(c.get("logprobs") is None for c in recorded["choices"])  # the record is the client's view
    assert recorded["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


async def test_text_completions_are_captured_too(tmp_path, token_upstream):
    up, _ = token_upstream
    db = tmp_path / "t.db"
    async with proxy_for(up, db, capture_tokens=True) as (proxy, _):
        for stream in (False, True):
            payload = {"model": "q", "prompt": "The weather in Paris", "stream": stream}
            direct = await post(up + "/v1/completions", payload)
            proxied = await post(proxy + "/v1/completions", payload)
            assert proxied.content == direct.content
        got = await wait_rows(db, 2, TOKENS_SQL)
    assert [r["status"] for r in got] == ["captured", "captured"]
    assert unpack_ids(got[0]["prompt_ids"]) == unpack_ids(got[1]["prompt_ids"])
    assert unpack_ids(got[0]["completion_ids"]) == unpack_ids(got[1]["completion_ids"])


async def test_the_client_asking_for_ids_itself_gets_them_and_they_are_recorded(tmp_path, token_upstream):
    up, _ = token_upstream
    db = tmp_path / "t.db"
    payload = {"model": "q", "messages": MESSAGES, "return_token_ids": True, "stream": True}
    async with proxy_for(up, db, capture_tokens=True) as (proxy, _):
        direct = await post(up + "/v1/chat/completions", payload)
        proxied = await post(proxy + "/v1/chat/completions", payload)
        (tokens,) = await wait_rows(db, 1, TOKENS_SQL)
    assert proxied.content == direct.content and b'"token_ids": [' in proxied.content
    assert tokens["status"] == "captured" and tokens["injected"] == ""


async def test_an_upstream_that_ignores_the_parameter_still_works_and_nothing_is_captured(tmp_path):
    async with running(ScriptedUpstream()) as up, proxy_for(up, tmp_path / "t.db", capture_tokens=True) as (proxy, _):
        for stream in (False, True):
            payload = {"model": "q", "messages": MESSAGES, "stream": stream}
            assert (await post(proxy + "/v1/chat/completions", payload)).content == (
                await post(up + "/v1/chat/completions", payload)
            ).content
        got = await wait_rows(tmp_path / "t.db", 2, TOKENS_SQL)
    assert [(r["status"], r["prompt_ids"], r["completion_ids"]) for r in got] == [("missing", None, None)] * 2
    assert "sent no token ids" in got[0]["detail"]
    shown = tm("exchanges", "show", "1", "--db", str(tmp_path / "t.db"))
    assert "token ids (choice 0): missing: the upstream sent no token ids" in shown.stdout


class Strict:
    """An upstream that refuses parameters it does not know, as OpenAI's API does."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.inner = Canned(
            [
                json.dumps(
                    {
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
                        ]
                    }
                ).encode()
            ],
            content_type=b"application/json",
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            message = await receive()
            body = json.loads(message["body"])
            self.bodies.append(body)
            if "return_token_ids" in body:
                error = json.dumps(
                    {"error": {"message": "Unrecognized request argument supplied: return_token_ids"}}
                ).encode()
                await send(
                    {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]}
                )
                await send({"type": "http.response.body", "body": error})
                return
            replay = [message]

            async def again():
                return replay.pop() if replay else await receive()

            await self.inner(scope, again, send)
            return
        await self.inner(scope, receive, send)


async def test_an_upstream_that_refuses_the_parameter_gets_the_clients_own_request_and_is_not_asked_again(tmp_path):
    strict = Strict()
    async with running(strict) as up, proxy_for(up, tmp_path / "t.db", capture_tokens=True) as (proxy, _):
        first = await post(proxy + "/v1/chat/completions", {"model": "q", "messages": MESSAGES})
        second = await post(proxy + "/v1/chat/completions", {"model": "q", "messages": MESSAGES})
        got = await wait_rows(tmp_path / "t.db", 2, TOKENS_SQL)
        exchanges = rows(tmp_path / "t.db")
    assert first.status_code == second.status_code == 200 and first.json()["choices"][0]["message"]["content"] == "hi"
    assert ["return_token_ids" in b for b in strict.bodies] == [True, False, False]
    assert [r["status"] for r in got] == ["missing", "missing"] and "refused return_token_ids (HTTP 400)" in got[0][
        "detail"
    ]
    assert [e["status"] for e in exchanges] == [200, 200] and exchanges[0]["error"] is None


async def test_capture_off_forwards_the_clients_bytes_and_records_no_ids(tmp_path):
    canned = Canned([b'{"choices": []}'], content_type=b"application/json")
    raw = b'{"model": "q",  "messages": [{"role": "user", "content": "hi"}]}'
    async with running(canned) as up, proxy_for(up, tmp_path / "t.db") as (proxy, _):
        async with httpx2.AsyncClient() as client:
            await client.post(proxy + "/v1/chat/completions", content=raw)
        await wait_rows(tmp_path / "t.db", 1)
    assert canned.bodies == [raw]
    assert rows(tmp_path / "t.db", TOKENS_SQL) == []
