"""A stdio child speaking newline-delimited JSON-RPC."""

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import sys
from collections.abc import Callable

from proxy.config import MCPServerConfig
from proxy.mcp.best_effort import best_effort
from proxy.mcp.outbound import Channel, ChannelError, split_lines

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with(parent: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: the kernel kills it when we die, even by SIGKILL."""

    def preexec() -> None:
        assert _libc is not None
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # we died before the line above took effect
            os._exit(1)

    return preexec


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
            # Its own session and process group, so closing it also ends what it started (npx's node child).
            # start_new_session, not process_group: uvloop (under `tracemill serve`) refuses process_group.
            self.proc = await asyncio.create_subprocess_exec(
                exe,
                *self.config.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=self.stderr,
                env=env,
                cwd=self.config.cwd,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid()) if _libc is not None else None,
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
                self.proc.stdin.write(raw)
                if not raw.endswith(b"\n"):
                    self.proc.stdin.write(b"\n")  # not raw + b"\n": no copy of a big message
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
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                self._signal_group(signal.SIGKILL)
                await proc.wait()
        self._signal_group(signal.SIGKILL)  # whatever it started and left behind in its group
        if self._reader is not None:
            with best_effort(f"waiting for the reader of {self.name}", asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, grace)

    def _signal_group(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
