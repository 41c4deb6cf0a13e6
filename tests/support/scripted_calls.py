"""Ask the scripted upstream for the same answer twice, whole and streamed, over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from proxy.fakes.scripted import Script, ScriptedUpstream
from proxy.server import running
from recorder.dialects.base import Dialect, Reassembled
from recorder.sse import parse_all


@asynccontextmanager
async def scripted_url(**script: Any) -> AsyncIterator[str]:
    async with running(ScriptedUpstream(Script(**script))) as url:
        yield url


async def both_forms(
    url: str, path: str, body: dict[str, Any], dialect: Dialect, **headers: str
) -> tuple[dict[str, Any], Reassembled]:
    """(the non-streamed answer, the streamed one reassembled) for one request."""
    async with httpx2.AsyncClient() as client:
        plain = await client.post(url + path, json=body, headers=headers)
        streamed = await client.post(url + path, json={**body, "stream": True}, headers=headers)
    assert plain.status_code == 200, plain.text
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    return plain.json(), dialect.reassemble(parse_all([streamed.content]))
