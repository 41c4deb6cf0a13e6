"""An upstream that answers instantly like vLLM with and without `return_token_ids`: compact JSON,
a 20-chunk stream (two of them id-only chunks when ids are asked for) or one JSON body, with a
prompt of 500 ids. Without the parameter the same keys come back as null, as vLLM sends them."""

from __future__ import annotations

import json
import sys

import uvicorn

PROMPT = list(range(1000, 1500))
HEAD = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def _chunk(delta: dict, ids: list[int] | None, finish: str | None = None, **top: object) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    if "prompt_token_ids" not in top:
        choice["token_ids"] = ids
    body = {**HEAD, "choices": [choice], **top}
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def stream(with_ids: bool) -> list[bytes]:
    out = [_chunk({"role": "assistant", "content": ""}, None, prompt_token_ids=PROMPT if with_ids else None)]
    if with_ids:
        out.append(_chunk({}, [7]))  # <think>: swallowed by the reasoning parser
    out += [_chunk({"content": "word "}, [100 + i] if with_ids else None) for i in range(16)]
    if with_ids:
        out.append(_chunk({}, [8]))
    out.append(_chunk({}, [2] if with_ids else None, "stop"))
    return [*out, b"data: [DONE]\n\n"]


def whole(with_ids: bool) -> bytes:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "word " * 20},
        "logprobs": None,
        "finish_reason": "stop",
    }
    choice["token_ids"] = list(range(100, 121)) if with_ids else None
    usage = {"prompt_tokens": len(PROMPT), "total_tokens": len(PROMPT) + 21, "completion_tokens": 21}
    body = {
        **HEAD,
        "object": "chat.completion",
        "choices": [choice],
        "usage": usage,
        "prompt_token_ids": PROMPT if with_ids else None,
    }
    return json.dumps(body, separators=(",", ":")).encode()


ANSWERS = {(s, i): stream(i) if s else [whole(i)] for s in (False, True) for i in (False, True)}


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    streamed = b'"stream": true' in body or b'"stream":true' in body
    pieces = ANSWERS[(streamed, b'"return_token_ids"' in body)]
    kind = b"text/event-stream" if streamed else b"application/json"
    headers = [(b"content-type", kind)] + ([] if streamed else [(b"content-length", str(len(pieces[0])).encode())])
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for piece in pieces:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
