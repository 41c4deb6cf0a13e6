"""Episodes recorded with token capture on, through the official openai SDK, for the export, drift
and fine-tune tests. Three runs, each its own session:

- `tools`: a tool call and the answer after it, both streamed;
- `compact`: the same, whole bodies, with the model writing tool arguments without spaces while the
  answer shows them re-serialised with spaces (the planted whitespace divergence);
- `think`: two user turns; the chat template drops the first answer's `<think>` block when it
  re-renders the conversation (the planted reasoning divergence).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from proxy.fakes.demo import TOOLS
from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from tests.support.serving import proxy_for

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


async def _ask(client: Any, messages: list[dict[str, Any]], stream: bool, **kwargs: Any) -> dict[str, Any]:
    """One call; the assistant message as an agent would send it back (reasoning included)."""
    if not stream:
        answer = (await client.chat.completions.create(model="q", messages=messages, **kwargs)).choices[0].message
        return answer.model_dump(exclude_none=True)
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    calls: dict[int, dict[str, Any]] = {}
    chunks = await client.chat.completions.create(
        model="q", messages=messages, stream=True, stream_options={"include_usage": True}, **kwargs
    )
    async for chunk in chunks:
        for choice in chunk.choices:
            delta = choice.delta.model_dump(exclude_none=True)
            message["content"] += delta.get("content") or ""
            if delta.get("reasoning_content"):
                message["reasoning_content"] = message.get("reasoning_content", "") + delta["reasoning_content"]
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(
                    call["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function") or {}
                slot["function"]["name"] += fn.get("name") or ""
                slot["function"]["arguments"] += fn.get("arguments") or ""
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
        message["content"] = message["content"] or None
    return message


async def _tool_run(client: Any, stream: bool, headers: dict[str, str]) -> None:
    messages: list[dict[str, Any]] = [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}]
    answer = await _ask(client, messages, stream, tools=TOOLS, extra_headers=headers)
    messages.append(answer)
    for call in answer["tool_calls"]:
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "18°C, light rain"})
    await _ask(client, messages, stream, tools=TOOLS, extra_headers=headers)


async def _think_run(client: Any) -> None:
    messages: list[dict[str, Any]] = [SYSTEM, {"role": "user", "content": "hello"}]
    messages.append(await _ask(client, messages, False))
    messages.append({"role": "user", "content": "thanks"})
    await _ask(client, messages, False)


async def record(proxy: str) -> None:
    from openai import AsyncOpenAI

    for session, run in (
        ("tools", lambda c: _tool_run(c, True, {})),
        ("compact", lambda c: _tool_run(c, False, {"x-script-raw-args": "compact"})),
        ("think", _think_run),
    ):
        client = AsyncOpenAI(base_url=f"{proxy}/s/{session}/v1", api_key="sk-test-0123456789")
        await run(client)
        await client.close()


async def truth(upstream: str, request: dict[str, Any], session: str) -> tuple[list[int], list[int]]:
    """What the upstream answers this request with when asked for ids: (prompt ids, completion ids)."""
    headers = {"x-script-raw-args": "compact"} if session == "compact" else {}
    body = {k: v for k, v in request.items() if k not in ("stream", "stream_options")}
    async with httpx2.AsyncClient() as client:
        answer = (
            await client.post(
                upstream + "/v1/chat/completions", json={**body, "return_token_ids": True}, headers=headers
            )
        ).json()
    return answer["prompt_token_ids"], answer["choices"][0]["token_ids"]


async def _build(tiny_model: Path, db: Path) -> dict[str, Any]:
    from tests.support.store_rows import rows

    async with running(ScriptedUpstream(Script(tokenizer=str(tiny_model)))) as upstream:
        async with proxy_for(upstream, db, capture_tokens=True, capture_logprobs=True) as (proxy, app):
            await record(proxy)
            await app.recorder.flush()
        exchanges = rows(db)
        ids = {r["id"]: await truth(upstream, json.loads(r["request_json"]), r["session"]) for r in exchanges}
    return {"db": db, "truth": ids, "sessions": {r["id"]: r["session"] for r in exchanges}}


@pytest.fixture(scope="session")
def token_store(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The store, and the upstream's own ids for each recorded exchange (by exchange id). Read it,
    never write it: the tests share it."""
    return asyncio.run(_build(tiny_model, tmp_path_factory.mktemp("tokens") / "tokens.db"))
