"""`tracemill wrap`: the stdio way in. An IDE launches this in place of the server command.

stdin lines go to the real server (a child process, or a remote one with --url), its stdout
lines come back, byte for byte and without a length limit; stderr passes through untouched.
Everything is recorded straight to the store; `serve` need not run. The exit code is the child's
when it ends cleanly (stdin EOF, or the server exits); after a signal it is 128 + the signal, and 1
when the client closed stdout. The child never outlives wrap (see outbound/stdio.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

from proxy.config import Config, MCPServerConfig
from proxy.mcp.best_effort import best_effort
from proxy.mcp.bridge import Bridge
from proxy.mcp.inbound.stdio_streams import StdioStreams
from proxy.mcp.outbound import Channel, ChannelError, mcp_client, open_channel, split_lines
from proxy.mcp.outbound.stdio import StdioChannel
from recorder import Store

DRAIN_SECONDS = 10.0  # after stdin ends, how long pending requests may take to be answered


async def wrap(server: MCPServerConfig, config: Config, session: str | None) -> int:
    store = Store.from_config(config)  # keep_raw and redaction as `serve` has them
    await store.start()
    client = None if server.command else mcp_client()
    channel = open_channel(server, client)
    stdio = StdioStreams()
    await stdio.open()
    bridge = _bridge(channel, server.name, session, store, stdio)
    try:
        await bridge.start()
    except ChannelError as exc:
        print(f"tracemill wrap: {exc}", file=sys.stderr)
        await store.close()
        return 127
    problem, waits = await _serve(bridge, stdio, channel)
    await bridge.close()  # closes the child's stdin, then ends it (and its process group) if it lingers
    await bridge.done.wait()
    for task in waits:
        task.cancel()
    with best_effort("flushing stdout to the client"):
        await stdio.flush()
    await store.close()
    if client is not None:
        await client.aclose()
    if problem is not None:
        message, code = problem
        print(f"tracemill wrap: {message}; the server was stopped", file=sys.stderr)
        return code
    if isinstance(channel, StdioChannel):
        code = channel.returncode if channel.returncode is not None else 0
        return 128 - code if code < 0 else code
    return 0


def _bridge(channel: Channel, name: str, session: str | None, store: Store, stdio: StdioStreams) -> Bridge:
    """The client's stdin and stdout joined to the server's channel, one line per message."""
    connection = f"wrap-{os.getpid()}"
    write_lock = asyncio.Lock()

    async def deliver(raw: bytes) -> bytes | None:
        async with write_lock:
            try:
                await stdio.write(raw, b"\n")
            except (BrokenPipeError, ConnectionResetError):
                stdio.stdout_closed.set()
                raise
        return None

    return Bridge(
        channel,
        server=name,
        inbound="stdio",
        connection=connection,
        session=session or connection,
        recorder=store,
        deliver=deliver,
    )


async def _serve(
    bridge: Bridge, stdio: StdioStreams, channel: Channel
) -> tuple[tuple[str, int] | None, set[asyncio.Task[Any]]]:
    """Relay until stdin ends, the server goes, the client closes stdout or a signal comes; returns why
    it was not a clean end (None when it was) and the tasks still to cancel."""

    async def pump_stdin() -> None:
        buffer = bytearray()
        async for chunk in stdio.chunks():
            for line in split_lines(buffer, chunk):
                await bridge.from_client(line)
        if buffer.strip():
            await bridge.from_client(bytes(buffer))

    stop = asyncio.Event()
    stopped_by: list[int] = []

    def on_signal(sig: int) -> None:
        stopped_by.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on this platform's loop
            loop.add_signal_handler(sig, on_signal, sig)
    stdin_task = asyncio.create_task(pump_stdin())
    waits: set[asyncio.Task[Any]] = {
        stdin_task,
        asyncio.create_task(bridge.done.wait()),
        asyncio.create_task(stdio.stdout_closed.wait()),
        asyncio.create_task(stop.wait()),
    }
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    problem = _why_not_clean(stdin_task, stdio, stopped_by)
    if problem is None and stdin_task.done() and bridge.pending and not isinstance(channel, StdioChannel):
        # The client is done sending (`wrap --url … < requests.jsonl`): let what it asked be answered
        # first. (A stdio child learns it from its own stdin closing, and finishes as it sees fit.)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_drained(bridge, stop), DRAIN_SECONDS)
        problem = _why_not_clean(stdin_task, stdio, stopped_by)
    return problem, waits


async def _drained(bridge: Bridge, stop: asyncio.Event) -> None:
    while bridge.pending and not bridge.done.is_set() and not stop.is_set():
        await asyncio.sleep(0.02)


def _why_not_clean(
    stdin_task: asyncio.Task[None], stdio: StdioStreams, stopped_by: list[int]
) -> tuple[str, int] | None:
    """Why wrap is stopping other than a clean end (stdin EOF or the server exiting), and the exit code."""
    if stopped_by:
        return f"stopped by {signal.Signals(stopped_by[0]).name}", 128 + stopped_by[0]
    if stdio.stdout_closed.is_set():
        return "the client closed stdout", 1
    if stdin_task.done() and not stdin_task.cancelled() and (exc := stdin_task.exception()) is not None:
        return f"reading stdin failed ({type(exc).__name__}: {exc})", 1
    return None


def run(server: MCPServerConfig, config: Config, session: str | None) -> int:
    return asyncio.run(wrap(server, config, session))
