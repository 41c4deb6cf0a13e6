"""The spill file: rows that could not reach SQLite, one JSON object a line, loaded back later."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recorder.ingest import Row
from recorder.store import open_sink


def spill_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{db_path}.spill.jsonl")


def _encode(value: Any) -> Any:
    return {"$b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value


def _decode(value: Any) -> Any:
    return base64.b64decode(value["$b64"]) if isinstance(value, dict) and "$b64" in value else value


def append(path: Path, rows: Iterable[Row]) -> int:
    """Append rows durably; returns how many were written."""
    lines = [json.dumps({"table": table, "row": {k: _encode(v) for k, v in row.items()}}) + "\n" for table, row in rows]
    if not lines:
        return 0
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())
    return len(lines)


def read(path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                item = json.loads(line)
                yield item["table"], {k: _decode(v) for k, v in item["row"].items()}


def recover(location: str | os.PathLike[str]) -> tuple[int, int]:
    """Load a store's spill file back into it; returns (rows read, rows inserted).

    Idempotent: uids decide what is already there, and the file is renamed afterwards.
    """
    path = spill_path(location)
    if not path.exists():
        return 0, 0
    rows = list(read(path))
    sink = open_sink(location)
    try:
        inserted = sink.write(rows)
    finally:
        sink.close()
    path.rename(path.with_name(path.name + f".recovered-{int(time.time())}"))
    return len(rows), inserted
