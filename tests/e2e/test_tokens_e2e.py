"""Acceptance, end to end: `tracemill serve` with token capture on, the official openai SDK in
front, the scripted vLLM-like upstream with a real tokenizer behind."""

from __future__ import annotations

import json

from openai import AsyncOpenAI

from proxy.fakes.demo import TOOLS
from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from tests.support.cli import export
from tests.support.serving import start_serve
from tests.support.store_rows import rows

MESSAGES = [{"role": "user", "content": "What's the weather in Paris?"}]


async def conversation(url: str) -> tuple[dict, list[dict]]:
    client = AsyncOpenAI(base_url=url + "/v1", api_key="sk-test-0123456789")
    whole = await client.chat.completions.create(model="q", messages=MESSAGES, tools=TOOLS)
    stream = await client.chat.completions.create(
        model="q", messages=MESSAGES, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk.model_dump() async for chunk in stream]
    await client.close()
    return whole.model_dump(), chunks


async def test_capture_is_invisible_to_the_sdk_and_the_export_holds_the_upstreams_ids(tmp_path, tiny_model):
    config = tmp_path / "capture.toml"
    config.write_text("[llm]\ncapture_tokens = true\ncapture_logprobs = true\n")
    upstream = ScriptedUpstream(Script(tokenizer=str(tiny_model)))
    seen = {}
    async with running(upstream) as up:
        servers = {
            "on": start_serve(tmp_path / "on.db", up + "/v1", config=config),
            "off": start_serve(tmp_path / "off.db", up + "/v1"),
        }
        try:
            for name, (_proc, url) in servers.items():
                seen[name] = await conversation(url)
        finally:
            for proc, _url in servers.values():
                proc.terminate()
                proc.wait(timeout=10)
    asked = list(upstream.requests)
    assert [("return_token_ids" in r, "logprobs" in r) for r in asked] == [
        (True, True),
        (True, True),
        (False, False),
        (False, False),
    ]
    assert seen["on"] == seen["off"]  # whole body and every chunk, as the SDK parses them
    whole, chunks = seen["on"]
    assert whole["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert all(c["choices"] == [] or c["choices"][0]["delta"] != {} or c["choices"][0]["finish_reason"] for c in chunks)
    assert rows(tmp_path / "off.db", "SELECT * FROM exchange_tokens") == []
    recorded = rows(tmp_path / "on.db", "SELECT status, injected FROM exchange_tokens ORDER BY rowid")
    assert [tuple(r) for r in recorded] == [("captured", "return_token_ids,logprobs")] * 2
    exported = export(tmp_path / "on.db", tmp_path / "t.jsonl", "--format", "tokens", "--tokenizer", str(tiny_model))
    body = {"model": "q", "messages": MESSAGES, "tools": TOOLS, "return_token_ids": True}
    from tests.support.token_recordings import truth as upstream_ids

    async with running(upstream) as up:
        prompt, completion = await upstream_ids(up, body, "")
    assert len(exported) == 2 and all(r["input_ids"] == prompt + completion and r["exact"] for r in exported)
    assert json.dumps(exported[0]["loss_mask"]) == json.dumps([0] * len(prompt) + [1] * len(completion))
