"""This process's own stdin and stdout as async streams, whatever they are: pipes, sockets and
terminals go through the event loop; regular files (`wrap … > out.jsonl`) are read and written
directly, since the loop cannot watch them. A closed stdout is noticed even when nothing is written."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator


def _pollable(fd: int) -> bool:
    """Can epoll watch it? Pipes, sockets and terminals yes; files and /dev/null no."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and os.isatty(fd))


class _WatchedPipe(asyncio.streams.FlowControlMixin):
    """Stdout's protocol: remembers when the reader went away."""

    def __init__(self, closed: asyncio.Event) -> None:
        super().__init__()
        self.closed = closed

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.closed.set()


class StdioStreams:
    def __init__(self) -> None:
        self.stdout_closed = asyncio.Event()  # set when the client stops reading our stdout
        self._writer: asyncio.StreamWriter | None = None
        self._out_fd = sys.stdout.fileno()
        self._in_fd = sys.stdin.fileno()
        self._reader: asyncio.StreamReader | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if _pollable(self._in_fd):
            with contextlib.suppress(OSError, ValueError):  # /dev/null cannot be polled: read it directly
                reader = asyncio.StreamReader(limit=1 << 30)
                protocol = asyncio.StreamReaderProtocol(reader)
                await loop.connect_read_pipe(lambda: protocol, os.fdopen(self._in_fd, "rb", 0, closefd=False))
                self._reader = reader
        if _pollable(self._out_fd):
            with contextlib.suppress(OSError, ValueError):
                transport, watched = await loop.connect_write_pipe(
                    lambda: _WatchedPipe(self.stdout_closed), os.fdopen(self._out_fd, "wb", 0, closefd=False)
                )
                self._writer = asyncio.StreamWriter(transport, watched, None, loop)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Stdin as it comes, until EOF."""
        loop = asyncio.get_running_loop()
        while True:
            if self._reader is not None:
                chunk = await self._reader.read(1 << 16)
            else:
                chunk = await loop.run_in_executor(None, os.read, self._in_fd, 1 << 16)
            if not chunk:
                return
            yield chunk

    async def write(self, *parts: bytes) -> None:
        """The parts, whole and in order (no joined copy of a big message); raises BrokenPipeError or
        ConnectionResetError when the reader is gone."""
        if self._writer is None:
            for data in parts:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._out_fd, view) :]
            return
        if self.stdout_closed.is_set():
            raise BrokenPipeError("stdout was closed")
        for data in parts:
            self._writer.write(data)
        await self._writer.drain()

    async def flush(self) -> None:
        if self._writer is not None and not self.stdout_closed.is_set():
            await self._writer.drain()
