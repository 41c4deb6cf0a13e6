"""Completion states through the real proxy: what the client read decides, not how it hung up."""

from __future__ import annotations

import asyncio
import json

import httpx2
from openai import OpenAI

from proxy.server import running
from tests.support.serving import proxy_for
from tests.support.store_rows import Canned, wait_rows


def chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "qwen",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


ANSWER = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Short."}),
    chunk({"content": "Hello"}),
    chunk({"content": "!"}, "stop"),
    b"data: [DONE]\n\n",
]


async def test_a_sync_client_that_closes_right_after_done_leaves_a_complete_exchange(db_path):
    # vLLM ends the body a moment after [DONE]; the sync openai SDK (and LangChain, LiteLLM) close first.
    upstream = Canned(ANSWER, delay=0.3)
    async with running(upstream) as up, proxy_for(up, db_path) as (proxy, _):

        def read() -> str:
            client = OpenAI(base_url=proxy + "/v1", api_key="sk-x", max_retries=0)
            stream = client.chat.completions.create(
                model="qwen", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            client.close()
            return text

        assert await asyncio.to_thread(read) == "Hello!"
        (row,) = await wait_rows(db_path, 1)
    assert (row["completion_state"], row["incomplete"], row["error"]) == ("complete", 0, None)
    assert row["dialect"] == "chat_completions"
    assert json.loads(row["response_json"])["choices"][0]["message"]["content"] == "Hello!"


async def test_a_client_that_aborts_mid_stream_leaves_an_incomplete_exchange_saying_why(db_path):
    upstream = Canned(ANSWER[:3] + [chunk({"content": f"w{i} "}) for i in range(100)] + ANSWER[3:], delay=0.02)
    async with running(upstream) as up, proxy_for(up, db_path) as (proxy, _):
        async with (
            httpx2.AsyncClient() as client,
            client.stream("POST", proxy + "/v1/chat/completions", json={"stream": True}) as response,
        ):
            async for _ in response.aiter_raw():
                break
        (row,) = await wait_rows(db_path, 1)
    assert (row["completion_state"], row["incomplete"]) == ("incomplete", 1)
    assert "client disconnected after" in row["completion_reason"] and "client disconnected" in row["error"]


async def test_a_length_cut_is_truncated_and_an_upstream_that_ends_early_is_incomplete(db_path):
    cut = [
        chunk({"role": "assistant", "content": "Once upon"}),
        chunk({"content": " a"}, "length"),
        b"data: [DONE]\n\n",
    ]
    early = [chunk({"role": "assistant", "content": "Once upon"})]
    for n, pieces in enumerate((cut, early), start=1):
        async with running(Canned(pieces)) as up, proxy_for(up, db_path) as (proxy, _):
            await httpx2.AsyncClient().post(proxy + "/v1/chat/completions", json={"stream": True})
            rows = await wait_rows(db_path, n)
    assert [(r["completion_state"], r["incomplete"]) for r in rows] == [("truncated", 0), ("incomplete", 1)]
    assert rows[0]["completion_reason"] == "finish_reason length" and rows[0]["error"] is None
    assert "terminal event" in rows[1]["completion_reason"]


async def test_an_sdk_client_aborting_mid_stream_leaves_an_incomplete_exchange_that_export_leaves_out(tmp_path):
    import anthropic
    from openai import AsyncOpenAI

    from proxy.fakes.scripted import Script, ScriptedUpstream
    from tests.support.cli import export

    db = tmp_path / "t.db"
    ask = [{"role": "user", "content": "Tell me about Paris, in many words please."}]
    async with running(ScriptedUpstream(Script(chunk_delay=0.02))) as up, proxy_for(up, db) as (proxy, app):
        client = AsyncOpenAI(base_url=proxy + "/v1", api_key="sk-x", max_retries=0)
        stream = await client.chat.completions.create(model="qwen", messages=ask, stream=True)
        async for _ in stream:
            break
        await stream.close()
        claude = anthropic.AsyncAnthropic(base_url=proxy, api_key="sk-x", max_retries=0)
        async with claude.messages.stream(model="qwen", max_tokens=512, messages=ask) as events:
            async for _ in events:
                break
        cut = await client.responses.create(
            model="qwen", input="Tell me about Paris.", extra_headers={"x-script-truncate": "1"}
        )
        assert cut.status == "incomplete"
        await client.close()
        rows = await wait_rows(db, 3)
        await app.recorder.flush()
    assert [(r["dialect"], r["completion_state"]) for r in rows] == [
        ("chat_completions", "incomplete"),
        ("anthropic_messages", "incomplete"),
        ("responses", "truncated"),
    ]
    assert all("client disconnected" in r["completion_reason"] for r in rows[:2])
    assert rows[2]["completion_reason"] == "incomplete: max_output_tokens"
    assert export(db, tmp_path / "d.jsonl") == []  # never train on a cut-off answer
    kept = export(db, tmp_path / "k.jsonl", "--include-incomplete")
    assert len(kept) == 3 and all(r["messages"][-1]["role"] == "assistant" for r in kept)


async def test_images_survive_export_from_chat_and_anthropic_clients(tmp_path):
    import anthropic
    from openai import AsyncOpenAI

    from proxy.fakes.scripted import ScriptedUpstream
    from tests.support.cli import export

    db, png = (
        tmp_path / "t.db",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    )
    url = f"data:image/png;base64,{png}"
    async with running(ScriptedUpstream()) as up, proxy_for(up, db) as (proxy, app):
        client = AsyncOpenAI(base_url=proxy + "/v1", api_key="sk-x", max_retries=0)
        parts = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
        await client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": parts}])
        claude = anthropic.AsyncAnthropic(base_url=proxy, api_key="sk-x", max_retries=0)
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
        await claude.messages.create(
            model="qwen",
            max_tokens=256,
            messages=[{"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]}],
        )
        await app.recorder.flush()
    rows = export(db, tmp_path / "e.jsonl")
    images = [[p for p in r["messages"][0]["content"] if p["type"] == "image_url"] for r in rows]
    assert images == [[{"type": "image_url", "image_url": {"url": url}}]] * 2
