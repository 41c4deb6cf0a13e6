"""Export: JSONL, Parquet or a Hugging Face `datasets` folder, streamed episode by episode.

Arrow-safety: `messages` and `tools` use the `datasets` Json feature (Arrow's JSON extension
type), so every tool schema and argument object is kept exactly as recorded instead of being
merged into one struct padded with nulls.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.dataset.preference import preference_rows
from finetune.dataset.row import episode_row
from finetune.dataset.split import side
from finetune.dataset.unroll import unroll
from recorder import Curation, Episode, Filters, open_reader

FORMATS = ("jsonl", "parquet", "hf", "dpo")  # dpo: JSONL preference pairs from edited turns


@dataclass
class ExportOptions:
    filters: Filters = field(default_factory=Filters)
    unroll: str | None = None  # None, "assistant" or "user-turns"
    strip_system: bool = False
    test_split: float = 0.0
    include_incomplete: bool = False  # keep last answers that were cut off (truncated or incomplete)


def _curated(
    db_path: str | Path, options: ExportOptions, progress: Callable[[int], None] | None
) -> Iterator[tuple[Episode, Curation]]:
    with open_reader(db_path) as reader:
        for n, pair in enumerate(reader.iter_episodes(options.filters), start=1):
            if progress:
                progress(n)
            yield pair


def iter_rows(
    db_path: str | Path, options: ExportOptions, progress: Callable[[int], None] | None = None
) -> Iterator[dict[str, Any]]:
    for episode, curation in _curated(db_path, options, progress):
        row = episode_row(episode, curation, options.strip_system, options.include_incomplete)
        if not row["messages"] or (episode.cut_off and not any(m["role"] == "assistant" for m in row["messages"])):
            continue  # nothing left to train on
        if options.unroll:
            yield from unroll(row, options.unroll)
        else:
            yield row


def iter_preferences(
    db_path: str | Path, options: ExportOptions, progress: Callable[[int], None] | None = None
) -> Iterator[dict[str, Any]]:
    """DPO pairs: one per edited assistant turn (see finetune/dataset/preference.py)."""
    for episode, curation in _curated(db_path, options, progress):
        yield from preference_rows(episode, curation, options.strip_system)


def episode_total(db_path: str | Path, options: ExportOptions) -> int:
    with open_reader(db_path) as reader:
        return reader.count_episodes(options.filters)


def features(unrolled: bool) -> Any:
    from datasets import Features, Json, Value

    spec = {k: Value("string") for k in ("id", "timestamp", "model", "session", "source")}
    spec.update(messages=Json(), tools=Json())
    if unrolled:
        spec.update(parent_id=Value("string"), turn=Value("int32"))
    return Features(spec)


_progress: Callable[[int], None] | None = None  # module-level: datasets pickles the generator


def _split_rows(db_path: str, options: ExportOptions, split: str) -> Iterator[dict[str, Any]]:
    for row in iter_rows(db_path, options, _progress if split == "train" else None):
        if side(row, options.test_split) == split:
            yield row


def _dataset(db_path: str, options: ExportOptions, split: str, cache: str) -> Any:
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()
    # Streams into an Arrow file in a fresh cache folder: flat memory, and never a stale cache hit.
    return Dataset.from_generator(
        _split_rows,
        features=features(bool(options.unroll)),
        gen_kwargs={"db_path": db_path, "options": options, "split": split},
        cache_dir=cache,
    )


def write(
    db_path: str | Path,
    out: str | Path,
    fmt: str,
    options: ExportOptions,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the export; returns row counts per split."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    out = Path(out)
    if fmt in ("jsonl", "dpo"):
        rows = (iter_rows if fmt == "jsonl" else iter_preferences)(db_path, options, progress)
        counts = {"train": 0, "test": 0}
        test_path = out.with_name(out.stem + ".test" + out.suffix) if options.test_split else None
        test_file = open(test_path, "w", encoding="utf-8") if test_path else contextlib.nullcontext(None)  # noqa: SIM115
        with open(out, "w", encoding="utf-8") as train_f, test_file as test_f:
            for row in rows:
                which = side(row, options.test_split)
                target = test_f if which == "test" and test_f is not None else train_f
                target.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts[which] += 1
        return {k: v for k, v in counts.items() if v or k == "train"}
    global _progress
    _progress = progress
    cache = tempfile.mkdtemp(prefix="tracemill-export-")
    try:
        splits = {"train": _dataset(str(db_path), options, "train", cache)}
        if options.test_split:
            splits["test"] = _dataset(str(db_path), options, "test", cache)
        return _save(splits, out, fmt, bool(options.test_split))
    finally:
        _progress = None
        shutil.rmtree(cache, ignore_errors=True)


def _save(splits: dict[str, Any], out: Path, fmt: str, split: bool) -> dict[str, int]:
    if fmt == "parquet":
        if len(splits) == 1:
            splits["train"].to_parquet(str(out))
        else:
            out.mkdir(parents=True, exist_ok=True)
            for name, ds in splits.items():
                ds.to_parquet(str(out / f"{name}.parquet"))
    elif split:
        from datasets import DatasetDict

        DatasetDict(splits).save_to_disk(str(out))
    else:
        splits["train"].save_to_disk(str(out))
    return {name: len(ds) for name, ds in splits.items()}
