"""Run the real `tracemill` command as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def tm(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def export(db: Path, out: Path, *flags: str) -> list[dict]:
    result = tm("export", str(out), "--db", str(db), *flags)
    assert result.returncode == 0, result.stderr
    if out.suffix == ".jsonl":
        return [json.loads(line) for line in out.read_text().splitlines()]
    return []
