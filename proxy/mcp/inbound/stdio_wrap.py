"""`tracemill wrap`: the stdio way in. An IDE launches this in place of the server command.

stdin lines go to the real server (a child process, or a remote one with --url), its stdout
lines come back, byte for byte and without a length limit; stderr passes through untouched.
Everything is recorded straight to the store; `serve` need not run. The exit code is the child's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

from proxy.config import Config, MCPServerConfig
from proxy.mcp.bridge import Bridge
from proxy.mcp.outbound import ChannelError, mcp_client, open_channel, split_lines
from proxy.mcp.outbound.stdio import StdioChannel
from recorder import Store


async def _stdio_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(sys.stdin.fileno(), "rb", 0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(sys.stdout.fileno(), "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


async def wrap(server: MCPServerConfig, config: Config, session: str | None) -> int:
    connection = f"wrap-{os.getpid()}"
    store = Store.from_config(config)  # keep_raw and redaction as `serve` has them
    await store.start()
    client = None if server.command else mcp_client()
    channel = open_channel(server, client)
    reader, writer = await _stdio_streams()
    write_lock = asyncio.Lock()

    async def deliver(raw: bytes) -> bytes | None:
        async with write_lock:
            writer.write(raw + b"\n")
            await writer.drain()
        return None

    bridge = Bridge(
        channel, server=server.name, transport="stdio", connection=connection,
        session=session or connection, recorder=store, deliver=deliver,
    )
    try:
        await bridge.start()
    except ChannelError as exc:
        print(f"tracemill wrap: {exc}", file=sys.stderr)
        await store.close()
        return 127

    async def pump_stdin() -> None:
        buffer = bytearray()
        while chunk := await reader.read(1 << 16):
            for line in split_lines(buffer, chunk):
                await bridge.from_client(line)
        if buffer.strip():
            await bridge.from_client(bytes(buffer))

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bridge.channel.close()))
    stdin_task = asyncio.create_task(pump_stdin())
    done_task = asyncio.create_task(bridge.done.wait())
    await asyncio.wait({stdin_task, done_task}, return_when=asyncio.FIRST_COMPLETED)
    if stdin_task.done():
        await bridge.close()  # the client hung up: close the child's stdin, let it exit
    await bridge.done.wait()
    stdin_task.cancel()
    with contextlib.suppress(Exception):
        await writer.drain()
    await store.close()
    if client is not None:
        await client.aclose()
    if isinstance(channel, StdioChannel):
        code = channel.returncode if channel.returncode is not None else 0
        return 128 - code if code < 0 else code
    return 0


def run(server: MCPServerConfig, config: Config, session: str | None) -> int:
    return asyncio.run(wrap(server, config, session))
