"""A stdio child speaking newline-delimited JSON-RPC."""


import asyncio
import contextlib
import os
import shutil

from proxy.config import MCPServerConfig
from proxy.mcp.outbound import Channel, ChannelError, split_lines


class StdioChannel(Channel):
    """A child process speaking newline-delimited JSON-RPC on stdin/stdout."""

    def __init__(self, config: MCPServerConfig, stderr: int | None = None) -> None:
        super().__init__(config.name)
        self.config = config
        self.stderr = stderr  # None: the child's stderr passes straight through to ours
        self.proc: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        command = self.config.command or ""
        exe = shutil.which(command) or command
        env = {**os.environ, **self.config.env}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                exe, *self.config.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=self.stderr, env=env, cwd=self.config.cwd,
            )
        except OSError as exc:
            raise ChannelError(f"MCP server '{self.name}': cannot start {command!r} ({exc.strerror or exc})") from None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        buffer = bytearray()
        while chunk := await self.proc.stdout.read(1 << 16):
            for line in split_lines(buffer, chunk):
                self._inbox.put_nowait(line)
        if buffer.strip():
            self._inbox.put_nowait(bytes(buffer))
        self.returncode = await self.proc.wait()
        self._ended(f"MCP server '{self.name}' exited with code {self.returncode}")

    async def send(self, raw: bytes) -> None:
        if self.proc is None or self.proc.stdin is None or self.closed_reason:
            raise ChannelError(self.closed_reason or f"MCP server '{self.name}' is not running")
        async with self._lock:  # one whole line at a time
            try:
                self.proc.stdin.write(raw if raw.endswith(b"\n") else raw + b"\n")
                await self.proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                raise ChannelError(f"MCP server '{self.name}' closed its stdin") from None

    async def close(self, grace: float = 2.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, grace)
