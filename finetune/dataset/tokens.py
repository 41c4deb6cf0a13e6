"""`tracemill export OUT --format tokens`: training rows made of the token ids the model really saw
and generated, one per LLM call, or with `stitch` one per episode.

A call whose recorded ids decode to its recorded answer is exact: `input_ids` are the upstream's
prompt ids plus the completion ids, `loss_mask` is 1 on the completion, `logprobs` has one value
per completion id. A call without ids (capture off, an upstream that ignored the parameter), with
inconsistent ids, with ids that do not match, or with a curated edit is re-rendered through the
tokenizer's chat template instead, and says `exact: false`.

Stitched rows follow an episode: while each call's prompt ids extend the previous call's prompt
plus completion, the calls join one row with a mask over every generated span. Where the prefix
breaks (the agent edited its history, or the template is not append-only) a new row starts, and
the break is reported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.dataset.row import clean_message
from finetune.dataset.token_match import decode, mismatch
from recorder import Curation, Filters, open_reader
from recorder.episodes.history import reasoning_of
from recorder.store.token_queries import TokenCall

NO_LIMIT = 1 << 30


@dataclass
class TokenOptions:
    filters: Filters = field(default_factory=Filters)
    stitched: bool = False  # one row per episode while the prompts extend
    include_incomplete: bool = False  # keep calls whose answer was cut off (truncated or incomplete)


@dataclass
class TokenSummary:
    calls: int = 0
    exact: int = 0
    rendered: int = 0  # re-rendered through the chat template: exact = false
    skipped: int = 0  # no answer, dropped by curation, or not renderable
    rows: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # why calls were re-rendered or skipped
    breaks: list[str] = field(default_factory=list)  # stitch: where a prompt did not extend its row

    def lines(self) -> list[str]:
        out = [
            f"{self.calls} calls: {self.exact} exact, {self.rendered} re-rendered through the chat template "
            f"(exact = false), {self.skipped} skipped"
        ]
        out += [f"  {n} x {why}" for why, n in self.reasons.most_common()]
        if self.breaks:
            out.append(f"{len(self.breaks)} stitch break(s), each starting a new row:")
            out += [f"  {b}" for b in self.breaks]
        return out


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def _assistant(message: dict[str, Any]) -> dict[str, Any]:
    """A recorded answer in the template's form: reasoning under `reasoning_content`."""
    out = dict(message)
    reasoning = reasoning_of(message)
    out.pop("reasoning", None)
    if reasoning:
        out["reasoning_content"] = reasoning
    return clean_message(out)


def _why_not_exact(tokenizer: Any, call: TokenCall, answer: dict[str, Any], edited: bool) -> str | None:
    if edited:
        return "the turn was edited in curation"
    if call.status is None:
        return "no ids recorded (capture_tokens was off)"
    if call.status != "captured":
        return f"{call.status} ids: {call.detail}"
    if call.prompt_ids is None or not call.completion_ids:
        return "incomplete ids"
    return mismatch(decode(tokenizer, call.completion_ids), answer)


def call_row(
    tokenizer: Any, episode_id: int, call: TokenCall, curation: Curation, summary: TokenSummary, options: TokenOptions
) -> dict[str, Any] | None:
    """One call as a training row, or None (counted in the summary) when it cannot be one."""
    from finetune.train.template import TemplateError, encode

    summary.calls += 1
    skip = "no answer" if call.answer is None else "dropped in curation" if curation.drops(call.answer_index) else None
    if skip is None and not call.finished and not options.include_incomplete:
        skip = "the answer was cut off (truncated or incomplete; --include-incomplete keeps it)"
    if skip or call.answer is None:
        summary.skipped += 1
        summary.reasons[skip or "no answer"] += 1
        return None
    answer = _assistant(curation.edited(call.answer_index, call.answer))
    why = _why_not_exact(tokenizer, call, answer, answer != _assistant(call.answer))
    logprobs = None
    if why is None:
        prompt, completion = call.prompt_ids or [], call.completion_ids or []
        input_ids, mask = prompt + completion, [0] * len(prompt) + [1] * len(completion)
        logprobs = call.logprobs if call.logprobs and len(call.logprobs) == len(completion) else None
        summary.exact += 1
    else:
        messages = [clean_message({**m, "reasoning_content": reasoning_of(m)}) for m in call.messages] + [answer]
        try:
            encoded = encode(tokenizer, messages, call.tools, NO_LIMIT)
        except TemplateError:
            encoded = None
        if encoded is None:
            summary.skipped += 1
            summary.reasons["the chat template cannot render it"] += 1
            return None
        input_ids = encoded["input_ids"]
        mask = [int(label != -100) for label in encoded["labels"]]
        summary.rendered += 1
        summary.reasons[why] += 1
    return {
        "id": f"{episode_id}#{call.turn}",
        "parent_id": str(episode_id),
        "episode": episode_id,
        "turn": call.turn,
        "exchange": call.exchange_id,
        "model": call.model or "",
        "input_ids": input_ids,
        "loss_mask": mask,
        "logprobs": logprobs,
        "exact": why is None,
        "reward": curation.reward,
    }


def _first_difference(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def stitch(
    tokenizer: Any, episode_id: int, rows: list[dict[str, Any]], summary: TokenSummary
) -> Iterator[dict[str, Any]]:
    """Join an episode's call rows while each prompt extends the row so far; a break starts a new row."""
    current: dict[str, Any] | None = None
    for row in rows:
        prompt_len = row["loss_mask"].index(1) if 1 in row["loss_mask"] else len(row["loss_mask"])
        ids = row["input_ids"]
        if current is not None:
            have = current["input_ids"]
            if prompt_len >= len(have) and ids[: len(have)] == have:
                current["input_ids"] = ids
                current["loss_mask"] = current["loss_mask"] + row["loss_mask"][len(have) :]
                current["turns"].append(row["turn"])
                current["exact"] = current["exact"] and row["exact"]
                has_lps = current["logprobs"] is not None and row["logprobs"] is not None
                current["logprobs"] = current["logprobs"] + row["logprobs"] if has_lps else None
                continue
            at = _first_difference(have, ids[:prompt_len])
            was, now = decode(tokenizer, have[at : at + 8]), decode(tokenizer, ids[at : min(at + 8, prompt_len)])
            summary.breaks.append(
                f"episode {episode_id} turn {row['turn']}: its prompt does not extend turns {current['turns']} "
                f"at token {at}: the row has {was!r}, the prompt {now!r}"
            )
            yield current
        current = {**row, "id": f"{episode_id}#{row['turn']}", "turns": [row["turn"]]}
    if current is not None:
        yield current


def iter_token_rows(
    db_path: str | Path, tokenizer: Any, options: TokenOptions, summary: TokenSummary
) -> Iterator[dict[str, Any]]:
    with open_reader(db_path) as reader:
        for episode, curation in reader.iter_episodes(options.filters):
            rows = [
                r
                for call in reader.token_calls(episode.id)
                if (r := call_row(tokenizer, episode.id, call, curation, summary, options))
            ]
            for row in stitch(tokenizer, episode.id, rows, summary) if options.stitched else rows:
                summary.rows += 1
                yield row


def write(db_path: str | Path, out: str | Path, tokenizer: Any, options: TokenOptions) -> TokenSummary:
    """JSONL, or Parquet when `out` ends in .parquet; streamed either way."""
    summary = TokenSummary()
    rows = iter_token_rows(db_path, tokenizer, options, summary)
    if str(out).endswith(".parquet"):
        _parquet(rows, Path(out), options.stitched)
    else:
        with open(out, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    return summary


def _schema(stitched: bool) -> Any:
    import pyarrow as pa

    columns = [
        ("id", pa.string()),
        ("parent_id", pa.string()),
        ("episode", pa.int64()),
        ("turn", pa.int32()),
        ("exchange", pa.int64()),
        ("model", pa.string()),
        ("input_ids", pa.list_(pa.int32())),
        ("loss_mask", pa.list_(pa.int8())),
        ("logprobs", pa.list_(pa.float32())),
        ("exact", pa.bool_()),
        ("reward", pa.float64()),
    ]
    if stitched:
        columns.append(("turns", pa.list_(pa.int32())))
    return pa.schema(columns)


def _parquet(rows: Iterator[dict[str, Any]], out: Path, stitched: bool, batch: int = 512) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema(stitched)
    with pq.ParquetWriter(str(out), schema) as writer:
        pending: list[dict[str, Any]] = []
        for row in rows:
            pending.append(row)
            if len(pending) >= batch:
                writer.write_table(pa.Table.from_pylist(pending, schema=schema))
                pending = []
        writer.write_table(pa.Table.from_pylist(pending, schema=schema))


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Token rows back from a .jsonl or .parquet export (for `tracemill finetune --exact-tokens`)."""
    if str(path).endswith(".parquet"):
        import pyarrow.parquet as pq

        return list(pq.read_table(str(path)).to_pylist())
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def training_rows(
    source: str | None, db: str, tokenizer_name: str, options: TokenOptions, say: Any = print
) -> list[dict[str, Any]]:
    """Token rows to train on: an exported .jsonl/.parquet file as it is, or the store's, made with
    the model's own tokenizer (the summary is said)."""
    from finetune.dataset.sources import DataError

    if source and not source.endswith((".db", ".sqlite")):
        if not Path(source).is_file():
            raise DataError(
                f"{source}: --exact-tokens reads a file written by `tracemill export --format tokens`, or the store"
            )
        rows = read_rows(source)
        if rows and not {"input_ids", "loss_mask"} <= set(rows[0]):
            raise DataError(f"{source}: not token rows (no input_ids and loss_mask); export with --format tokens")
        return rows
    summary = TokenSummary()
    rows = list(iter_token_rows(source or db, load_tokenizer(tokenizer_name), options, summary))
    for line in summary.lines():
        say(line)
    return rows
