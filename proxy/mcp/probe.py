"""`tracemill mcp servers`: is each configured server reachable, and how many tools has it?"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from proxy.config import MCPServerConfig
from proxy.mcp.outbound import ChannelError, mcp_client, open_channel

_INIT = {
    "jsonrpc": "2.0",
    "id": "probe-init",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "tracemill-probe", "version": "1"},
    },
}


async def probe(server: MCPServerConfig, timeout: float = 30.0) -> dict[str, Any]:
    """Handshake, then page through tools/list; never raises."""
    client = mcp_client()
    channel = open_channel(server, client, stderr=asyncio.subprocess.DEVNULL)
    started = time.perf_counter()
    out: dict[str, Any] = {
        "name": server.name,
        "transport": server.kind,
        "reachable": False,
        "tools": None,
        "error": None,
    }
    try:
        async with asyncio.timeout(timeout):
            await channel.start()
            inbox = channel.messages()

            async def ask(message: dict[str, Any]) -> dict[str, Any]:
                await channel.send(json.dumps(message).encode())
                async for raw in inbox:
                    try:
                        reply = json.loads(raw)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(reply, dict) and reply.get("id") == message["id"] and "method" not in reply:
                        return reply
                raise ChannelError(channel.closed_reason or "the server closed the connection")

            init = await ask(_INIT)
            if "error" in init:
                raise ChannelError(init["error"].get("message", "initialize failed"))
            out["server_info"] = (init.get("result") or {}).get("serverInfo")
            await channel.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            count, cursor, page = 0, None, 0
            while True:
                page += 1
                params: dict[str, Any] = {"cursor": cursor} if cursor else {}
                reply = await ask(
                    {"jsonrpc": "2.0", "id": f"probe-tools-{page}", "method": "tools/list", "params": params}
                )
                result = reply.get("result") or {}
                count += len(result.get("tools") or [])
                cursor = result.get("nextCursor")
                if not cursor or page > 100:
                    break
            out.update(reachable=True, tools=count)
    except TimeoutError:
        out["error"] = f"no answer within {timeout:.0f}s"
    except (ChannelError, OSError) as exc:
        out["error"] = str(exc)
    finally:
        out["ms"] = round((time.perf_counter() - started) * 1000)
        await channel.close()
        await client.aclose()
    return out


async def probe_all(servers: list[MCPServerConfig]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(probe(s) for s in servers)))
