"""`tracemill wrap` never orphans its server: not after SIGKILL, SIGHUP or a closed stdout, even
when the server ignores EOF and SIGTERM; it says when it did not end cleanly; stdout may be a file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.support.mcp_harness import ROOT
from tests.support.procs import alive, descendants, kill_all
from tests.support.raw_mcp import INIT, call

SERVER = [sys.executable, "-m", "tests.support.mcp_servers.lineserver"]


def start_wrap(db, *flags: str, **popen) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "proxy", "wrap", "--name", "line", "--db", str(db), "--", *SERVER, *flags]
    popen = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    return subprocess.Popen(cmd, cwd=ROOT, **popen)


def handshake(proc: subprocess.Popen[bytes]) -> int:
    """Initialize through wrap; returns the server's pid."""
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps(INIT).encode() + b"\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 0
    (child,) = descendants(proc.pid)
    return child


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["SIGKILL", "SIGHUP", "SIGTERM"])
def test_a_stubborn_server_dies_with_wrap(tmp_path, how):
    proc = start_wrap(tmp_path / "m.db", "--stubborn")
    child = handshake(proc)
    try:
        proc.send_signal(getattr(signal, how))
        code = proc.wait(20)
        assert gone_within(child, 10), f"the server (pid {child}) outlived wrap"
    finally:
        kill_all([child])
    if how != "SIGKILL":
        assert code == 128 + getattr(signal, how)  # not a clean end, and it says so
        assert f"stopped by {how}" in proc.stderr.read().decode()


def test_a_closed_stdout_stops_wrap_and_its_server(tmp_path):
    proc = start_wrap(tmp_path / "m.db", "--stubborn")
    child = handshake(proc)
    try:
        assert proc.stdout is not None
        proc.stdout.close()  # the client stops reading; stdin stays open
        code = proc.wait(20)
        assert gone_within(child, 10)
    finally:
        kill_all([child])
    assert code == 1 and "closed stdout" in proc.stderr.read().decode()


@pytest.mark.parametrize("files", ["stdout", "both"])
def test_stdout_and_stdin_may_be_regular_files(tmp_path, files):
    lines = [json.dumps(INIT), json.dumps(call(1, "echo", message="to a file"))]
    requests = tmp_path / "in.jsonl"
    requests.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    with out.open("wb") as stdout, requests.open("rb") as stdin_file:
        if files == "both":
            proc = start_wrap(tmp_path / "m.db", stdin=stdin_file, stdout=stdout)
        else:
            proc = start_wrap(tmp_path / "m.db", stdout=stdout)
            assert proc.stdin is not None
            proc.stdin.write(requests.read_bytes())
            proc.stdin.close()
        code = proc.wait(20)
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert answers[1]["result"]["content"][0]["text"] == "to a file"
