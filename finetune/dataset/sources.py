"""Training data from any SOURCE: the store (through the export code), an exported JSONL file,
Parquet file or `datasets` folder, or a Hub dataset id. One reader: whatever the source, rows come
out in the export's format, unrolled unless asked otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finetune.dataset.export import ExportOptions, iter_rows
from finetune.dataset.unroll import unroll
from recorder.store.location import is_postgres


class DataError(ValueError):
    """A source that cannot be read, phrased for the user."""


def _loaded(source: str) -> Iterator[dict[str, Any]]:
    path = Path(source)
    if path.suffix == ".jsonl" and path.is_file():
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
        return
    from datasets import load_dataset, load_from_disk

    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()):
        loaded = load_from_disk(str(path))
    elif path.is_file() and path.suffix == ".parquet":
        loaded = load_dataset("parquet", data_files=str(path))
    elif path.exists():
        loaded = load_dataset(str(path))
    elif "/" in source and not path.suffix:
        try:
            loaded = load_dataset(source)  # a Hub dataset id
        except Exception as exc:
            raise DataError(f"cannot load the Hub dataset {source!r}: {exc}") from None
    else:
        raise DataError(
            f"{source}: no such file, folder or Hub dataset (give a .db store, .jsonl, .parquet, a datasets folder or user/name)"
        )
    splits = loaded.values() if hasattr(loaded, "values") else [loaded]
    for split in splits:
        for row in split:
            yield dict(row)


def load_rows(source: str | None, db: str, options: ExportOptions) -> list[dict[str, Any]]:
    """Rows ready to train on. The store goes through the export code; files are read as exported."""
    if source is None or source.endswith((".db", ".sqlite")) or is_postgres(source):
        return list(iter_rows(source or db, options))
    rows: list[dict[str, Any]] = []
    for row in _loaded(source):
        if options.unroll and "parent_id" not in row:
            rows.extend(unroll(row, options.unroll))
        else:
            rows.append(row)
    return rows
