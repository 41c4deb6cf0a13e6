"""`tracemill finetune | eval`: from recorded traces to a model, and numbers to judge it."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from proxy.cli.common import _db, common, main
from proxy.cli.traces import episode_filter_options, make_filters

SOURCE_HELP = "The store (default), an exported .jsonl/.parquet file or datasets folder, or a Hub dataset id."


def _rows(
    ctx: click.Context, data: str | None, unroll: str | None, filters: Any, include_incomplete: bool = False
) -> list[dict[str, Any]]:
    from finetune.dataset.export import ExportOptions
    from finetune.dataset.sources import DataError, load_rows

    try:
        return load_rows(
            data, _db(ctx), ExportOptions(filters=filters, unroll=unroll, include_incomplete=include_incomplete)
        )
    except (DataError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command(context_settings={"show_default": True})
@click.option("--data", help=SOURCE_HELP)
@click.option("--model", help="Base model: a local folder or a Hub id, e.g. Qwen/Qwen3-4B.")
@click.option("--out", type=click.Path(file_okay=False), help="Output folder: adapter/, merged/, run.json.")
@click.option(
    "--backend",
    type=click.Choice(["auto", "unsloth", "trl"]),
    default=None,
    help="auto: Unsloth with CUDA, else TRL + PEFT.",
)
@click.option("--max-steps", type=int, default=None, help="Stop after N optimizer steps (default: whole epochs).")
@click.option("--epochs", type=float, default=None, help="[default: 1]")
@click.option("--lr", type=float, default=None, help="Constant learning rate [default: 2e-4].")
@click.option("--rank", type=int, default=None, help="LoRA rank [default: 32].")
@click.option("--alpha", type=int, default=None, help="LoRA alpha [default: 32], rsLoRA on.")
@click.option("--batch-size", type=int, default=None, help="[default: 1]")
@click.option("--grad-accum", type=int, default=None, help="[default: 8]")
@click.option("--max-seq-length", type=int, default=None, help="Clamped to the model's limit [default: 32768].")
@click.option("--eval-split", type=float, default=None, help="Hold out this share of whole episodes; report eval loss.")
@click.option("--load-in-4bit", is_flag=True, default=None, help="Unsloth: load the base model in 4 bits.")
@click.option("--report-to", type=click.Choice(["none", "tensorboard"]), default=None)
@click.option("--merge", is_flag=True, default=None, help="Also save a merged 16-bit model in OUT/merged.")
@click.option(
    "--unroll",
    type=click.Choice(["assistant", "user-turns", "none"]),
    default="assistant",
    help="How episodes become rows. The default trains on every assistant turn, so no reasoning is lost.",
)
@click.option("--push", "push_to", help="Upload the adapter (or merged model) to this Hub repo, with a model card.")
@click.option(
    "--exact-tokens",
    is_flag=True,
    default=None,
    help="Train on the recorded token ids (export --format tokens rows, or the store's), no chat template.",
)
@click.option("--stitch", is_flag=True, default=None, help="With --exact-tokens from the store: one row per episode.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show the first training example with its label mask and the token counts; train nothing.",
)
@click.option(
    "--include-incomplete",
    is_flag=True,
    help="From the store: also train on last answers that were cut off (left out by default).",
)
@episode_filter_options
@common
def finetune(  # type: ignore[no-untyped-def]
    ctx: click.Context,
    data,
    model,
    out,
    unroll,
    push_to,
    dry_run,
    include_incomplete,
    session,
    tag,
    since,
    include_excluded,
    **flags,
) -> None:
    """LoRA fine-tune a model on recorded traces, loss on assistant tokens only.

    Every option can also be set in a [finetune] table of the --config file (flags win).

    Episodes are unrolled by default (one row per assistant turn, loss on that turn), because
    Qwen3's template drops the reasoning of earlier turns: without unrolling it would silently
    vanish from training. Unsloth is used when CUDA and Unsloth are present, else TRL + PEFT.
    """
    from finetune.train.run import TrainConfig, TrainError, from_toml, run

    train_config = ctx.obj.get("config")  # --config FILE: its [finetune] table, if any, sets the defaults
    try:
        settings: dict[str, Any] = from_toml(train_config) if train_config else {}
    except TrainError as exc:
        raise click.ClickException(str(exc)) from None
    settings.update({k: v for k, v in flags.items() if v is not None and k in {f.name for f in fields(TrainConfig)}})
    settings.update({k: v for k, v in {"model": model, "out": out}.items() if v})
    config = TrainConfig(**settings)
    config.merge = bool(config.merge)
    if not config.model:
        raise click.UsageError("--model is required (or `model` in the [finetune] table)")
    if not config.out and not dry_run:
        raise click.UsageError("--out is required (or `out` in the [finetune] table)")
    config.unroll = unroll
    filters = make_filters(session, None, since, tag, include_excluded)
    if config.exact_tokens:
        rows = _token_rows(ctx, data, config, filters, include_incomplete)
    else:
        rows = _rows(ctx, data, None if unroll == "none" else unroll, filters, include_incomplete)
    if not rows:
        raise click.ClickException("no training rows: record some episodes first, or check --data and the filters")
    if dry_run:
        _dry_run(config, rows)
        return
    from finetune.dataset.sources import DataError
    from finetune.dataset.split import SplitError, split
    from finetune.train.backends import BackendError

    try:
        train_rows, eval_rows = split(rows, config.eval_split)
        Path(config.out).mkdir(parents=True, exist_ok=True)
        report = run(config, train_rows, eval_rows, say=click.echo)
    except (BackendError, TrainError, DataError, SplitError) as exc:
        raise click.ClickException(str(exc)) from None
    losses = report["losses"]
    click.echo(
        f"done: loss {losses['first']:.4f} -> {losses['final']:.4f} in {report['timings']['train_s']}s; wrote {config.out}/run.json"
    )
    if push_to:
        from finetune.hub import HubError, push_model

        try:
            click.echo(f"pushed to {push_model(config.out, push_to, data)}")
        except HubError as exc:
            raise click.ClickException(str(exc)) from None


def _token_rows(
    ctx: click.Context, data: str | None, config: Any, filters: Any, include_incomplete: bool
) -> list[dict[str, Any]]:
    from finetune.dataset.sources import DataError
    from finetune.dataset.tokens import TokenOptions, training_rows

    try:
        return training_rows(
            data, _db(ctx), config.model, TokenOptions(filters, config.stitch, include_incomplete), say=click.echo
        )
    except (DataError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None


def _dry_run(config: Any, rows: list[dict[str, Any]]) -> None:
    from rich.text import Text
    from transformers import AutoTokenizer

    from finetune.train.run import prepared
    from proxy.cli.render import console

    tokenizer = AutoTokenizer.from_pretrained(config.model)
    examples, skipped = prepared(config, tokenizer, rows)
    if not examples:
        raise click.ClickException(f"no trainable rows ({skipped} skipped)")
    first = examples[0]
    text = Text()
    for token, label in zip(first["input_ids"], first["labels"], strict=True):
        text.append(str(tokenizer.decode([token])), style="bold green" if label != -100 else "dim")
    console.print(Text("first training example (green: in the loss; dim: context only):", style="bold"))
    console.print(text)
    lengths = [len(e["input_ids"]) for e in examples]
    trained = sum(sum(1 for label in e["labels"] if label != -100) for e in examples)
    console.print(
        f"\nrows {len(examples)} (skipped {skipped}); tokens {sum(lengths)} total, {trained} in the loss "
        f"({trained / max(sum(lengths), 1):.0%}); longest row {max(lengths)} tokens; max_seq_length {config.max_seq_length}"
    )


@main.command("eval")
@click.option("--data", help=SOURCE_HELP)
@click.option("--model", required=True, help="A local model folder or Hub id; with --endpoint, the served model name.")
@click.option(
    "--adapter", type=click.Path(exists=True, file_okay=False), help="A LoRA adapter folder to apply to --model."
)
@click.option(
    "--endpoint", help="An OpenAI-compatible base URL (vLLM, or tracemill in front of it) instead of loading the model."
)
@click.option("--limit", type=int, help="Evaluate at most N assistant turns.")
@click.option("--max-new-tokens", type=int, default=512, show_default=True)
@click.option(
    "--eval-split", type=float, default=0.0, help="Use only the held-out share of episodes (as finetune split them)."
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write the metrics JSON here.")
@click.option(
    "--compare",
    "compare_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A previous metrics file: print before/after.",
)
@episode_filter_options
@common
def eval_(  # type: ignore[no-untyped-def]
    ctx: click.Context,
    data,
    model,
    adapter,
    endpoint,
    limit,
    max_new_tokens,
    eval_split,
    out_path,
    compare_path,
    session,
    tag,
    since,
    include_excluded,
    **_: Any,
) -> None:
    """Replay held-out turns and score tool calls, text answers, syntax and reasoning length."""
    from finetune.dataset.split import SplitError, split
    from finetune.evaluate import EndpointModel, LocalModel, compare, evaluate

    rows = _rows(ctx, data, "assistant", make_filters(session, None, since, tag, include_excluded))
    if eval_split:
        try:
            rows = split(rows, eval_split)[1]
        except SplitError as exc:
            raise click.ClickException(str(exc)) from None
    judge = EndpointModel(endpoint, model, max_new_tokens) if endpoint else LocalModel(model, adapter, max_new_tokens)
    metrics = evaluate(rows, judge, limit)
    metrics["model"], metrics["adapter"], metrics["endpoint"] = model, adapter, endpoint
    if out_path:
        Path(out_path).write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    from rich.table import Table

    from proxy.cli.render import console

    summary = {k: v for k, v in metrics.items() if k != "examples"}
    if compare_path:
        before = json.loads(Path(compare_path).read_text())
        table = Table("metric", "before", "after", "change", box=None, header_style="bold")
        for key, a, b, delta in compare(before, metrics):
            table.add_row(key, str(a), str(b), delta)
        console.print(table)
    else:
        console.print_json(json.dumps(summary))
