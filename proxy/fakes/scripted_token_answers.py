"""The scripted upstream's answers with token ids: chat (through `TokenModel`) and text completions
(`/v1/completions`: an echo of the prompt's end), streamed or whole, as vLLM sends them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from proxy.fakes.scripted_tokens import Group, Style, TokenModel, sse


def text_completion(model: TokenModel, request: dict[str, Any]) -> tuple[dict[str, Any], list[Group]]:
    """A text completion: an echo of the prompt's end, then the end-of-turn token."""
    prompt = model.prompt_ids(request)
    tail = model.tok.decode(prompt[-8:], skip_special_tokens=True).strip()
    groups: list[Group] = [*model.groups(f" Echo: {tail}."), ("", [model.eos])]
    ids = [i for _, g in groups for i in g]
    want_ids, want_lp = request.get("return_token_ids") is True, request.get("logprobs") is not None
    body: dict[str, Any] = {
        "id": "cmpl-" + format(abs(hash(tuple(prompt))) % 16**16, "016x"),
        "object": "text_completion",
        "created": 1750000000,
        "model": request.get("model") or "scripted",
        "choices": [
            {
                "index": 0,
                "text": "".join(text for text, _ in groups),
                "logprobs": text_logprobs(model, groups, 0) if want_lp else None,
                "finish_reason": "stop",
                "stop_reason": None,
                "prompt_logprobs": None,
                "prompt_token_ids": prompt if want_ids else None,
                "token_ids": ids if want_ids else None,
            }
        ],
        "usage": {
            "prompt_tokens": len(prompt),
            "total_tokens": len(prompt) + len(ids),
            "completion_tokens": len(ids),
        },
    }
    return body, groups


def text_logprobs(model: TokenModel, groups: list[Group], at: int) -> dict[str, Any]:
    tokens = [model.tok.decode([i], skip_special_tokens=False) for _, g in groups for i in g]
    ids = [i for _, g in groups for i in g]
    lps = [model.logprob(i, p) for p, i in enumerate(ids, start=at)]
    offsets, pos = [], 0
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    return {
        "text_offset": offsets,
        "token_logprobs": lps,
        "tokens": tokens,
        "top_logprobs": [{t: lp} for t, lp in zip(tokens, lps, strict=True)],
    }


def text_completion_frames(model: TokenModel, request: dict[str, Any]) -> Iterator[bytes]:
    body, groups = text_completion(model, request)
    choice = body["choices"][0]
    want_lp = choice["logprobs"] is not None
    head = {k: body[k] for k in ("id", "object", "created", "model")}
    at = 0
    for n, (text, ids) in enumerate(groups):
        last = n == len(groups) - 1
        out = {
            "index": 0,
            "text": text,
            "logprobs": text_logprobs(model, [(text, ids)], at) if want_lp else None,
            "finish_reason": "stop" if last else None,
            "stop_reason": None,
            "token_ids": ids if choice["token_ids"] is not None else None,
        }
        if n == 0:
            out["prompt_token_ids"] = choice["prompt_token_ids"]
        at += len(ids)
        yield sse({**head, "choices": [out]})
    if (request.get("stream_options") or {}).get("include_usage"):
        yield sse({**head, "choices": [], "usage": body["usage"]})
    yield sse("[DONE]")


async def answer(
    model: TokenModel,
    send: Any,
    request: dict[str, Any],
    completion: dict[str, Any] | None,
    headers: dict[bytes, bytes],
    delay: float = 0.0,
) -> None:
    """Answer a chat request (given its completion) or, with `completion` None, a text completion."""
    import asyncio

    style = Style(headers.get(b"x-script-raw-args") == b"compact", headers.get(b"x-script-tokens") == b"parts")
    stream = bool(request.get("stream"))
    if completion is None:
        frames = (
            text_completion_frames(model, request)
            if stream
            else iter([json.dumps(text_completion(model, request)[0]).encode()])
        )
    else:
        frames = (
            model.chat_frames(request, completion, style)
            if stream
            else iter([json.dumps(model.chat(request, completion, style)).encode()])
        )
    kind = b"text/event-stream" if stream else b"application/json"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]})
    for frame in frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
        if delay and stream:
            await asyncio.sleep(delay)
    await send({"type": "http.response.body", "body": b""})
