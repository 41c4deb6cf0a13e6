"""A streamable HTTP MCP stand-in that answers every POST with one big SSE event (a tool result of
the given size), written in 64 KiB chunks: how much does relaying and recording it cost?

    python -m tests.bench.big_sse_upstream PORT MEGABYTES
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn


def make_app(size: int) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body) if body else {}
        rid = request.get("id")
        if request.get("method") == "initialize":  # small, so a client can warm up first
            answer = {
                "jsonrpc": "2.0",
                "id": rid,
                "result": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "serverInfo": {"name": "big", "version": "1"},
                },
            }
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        head = b'event: message\ndata: {"jsonrpc":"2.0","id":' + json.dumps(rid).encode()
        event = head + b',"result":{"content":[{"type":"text","text":"' + b"x" * size + b'"}]}}\n\n'
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        view = memoryview(event)
        for start in range(0, len(event), 1 << 16):
            await send(
                {"type": "http.response.body", "body": bytes(view[start : start + (1 << 16)]), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    return app


if __name__ == "__main__":
    port, megabytes = int(sys.argv[1]), float(sys.argv[2])
    uvicorn.run(make_app(int(megabytes * 1_000_000)), host="127.0.0.1", port=port, log_level="warning")
