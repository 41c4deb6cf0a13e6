"""`tracemill import | export | push`: from recordings to datasets.

The CLI is the composition root: it is the one place that reaches `finetune`, lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from proxy.cli.common import _db, _open, common, main
from proxy.cli.traces import filter_options, make_filters, rating_options


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@common
def import_(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Load trace files in the workshop format (timestamp, model, messages, tools) as episodes."""
    from recorder.ingest.workshop_import import trace_rows
    from recorder.store import write_rows

    db_path = _db(ctx)
    rows, problems = trace_rows([Path(f) for f in files])
    added = write_rows(db_path, rows)
    for problem in problems:
        click.echo(f"skipped: {problem}", err=True)
    with _open(ctx) as reader:
        reader.refresh()
    click.echo(f"imported {added} new trace(s) into {db_path} ({len(files) - len(problems) - added} already there)")
    if problems and not added:
        raise SystemExit(1)


def _export_options(
    unroll: str | None, strip_system: bool, test_split: float, filters: Any, include_incomplete: bool = False
) -> Any:
    from finetune.dataset.export import ExportOptions

    return ExportOptions(
        filters=filters,
        unroll=unroll,
        strip_system=strip_system,
        test_split=test_split,
        include_incomplete=include_incomplete,
    )


INCOMPLETE_HELP = "Keep last answers that were cut off (truncated at max tokens, or incomplete); left out by default."


UNROLL_HELP = "One row per assistant turn (`--unroll`), or the reference workshop's cut (`--unroll=user-turns`)."


@main.command()
@click.argument("out", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet", "hf", "dpo", "tokens"]),
    default="jsonl",
    show_default=True,
    help="dpo: JSONL preference pairs (prompt, chosen, rejected, tools) from edited assistant turns. "
    "tokens: one row per LLM call as token ids (input_ids, loss_mask, logprobs, exact); Parquet if OUT ends in .parquet.",
)
@click.option("--tokenizer", help="--format tokens: the model's tokenizer (a local folder or Hub id).")
@click.option(
    "--stitch", is_flag=True, help="--format tokens: one row per episode where each call's prompt extends the last."
)
@click.option(
    "--unroll",
    is_flag=False,
    flag_value="assistant",
    default=None,
    type=click.Choice(["assistant", "user-turns"]),
    help=UNROLL_HELP,
)
@click.option("--strip-system", is_flag=True, help="Drop system prompts from every row.")
@click.option(
    "--test-split", type=click.FloatRange(0, 0.9), default=0.0, help="Hold out this share of episodes as a test split."
)
@click.option("--include-incomplete", is_flag=True, help=INCOMPLETE_HELP)
@filter_options
@rating_options
@common
def export(  # type: ignore[no-untyped-def]
    ctx: click.Context,
    out: str,
    fmt: str,
    tokenizer,
    stitch,
    unroll,
    strip_system: bool,
    test_split: float,
    include_incomplete: bool,
    session,
    model,
    since,
    tag,
    include_excluded,
    rating,
    min_rating,
) -> None:
    """Export episodes as JSONL, Parquet or a Hugging Face datasets folder, or as token ids."""
    from rich.progress import Progress

    from finetune.dataset.export import episode_total, write

    filters = make_filters(session, model, since, tag, include_excluded, rating, min_rating)
    if fmt == "tokens" or tokenizer or stitch:
        from finetune.dataset.tokens import TokenOptions
        from proxy.cli.tokens import export_tokens

        options = TokenOptions(filters, stitch, include_incomplete)
        export_tokens(ctx, out, fmt, tokenizer, bool(unroll or strip_system or test_split), options)
        return
    if fmt == "dpo" and unroll:
        raise click.UsageError("--format dpo writes one pair per edited turn; --unroll does not apply")
    options = _export_options(unroll, strip_system, test_split, filters, include_incomplete)
    db_path = _db(ctx)
    _open(ctx).close()
    total = episode_total(db_path, options)
    with Progress(transient=True) as bar:
        task = bar.add_task("exporting episodes", total=total)
        counts = write(db_path, out, fmt, options, progress=lambda n: bar.update(task, completed=n))
    what = "preference pairs" if fmt == "dpo" else "rows"
    click.echo(
        f"wrote {', '.join(f'{n} {s} {what}' for s, n in counts.items())} to {out} ({fmt}{', unrolled: ' + unroll if unroll else ''})"
    )


@main.command()
@click.argument("repo_id")
@click.option("--private/--public", default=True, show_default=True)
@click.option(
    "--unroll",
    is_flag=False,
    flag_value="assistant",
    default=None,
    type=click.Choice(["assistant", "user-turns"]),
    help=UNROLL_HELP,
)
@click.option("--strip-system", is_flag=True)
@click.option("--test-split", type=click.FloatRange(0, 0.9), default=0.0)
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the local dataset folder here.")
@click.option("--include-incomplete", is_flag=True, help=INCOMPLETE_HELP)
@filter_options
@rating_options
@common
def push(  # type: ignore[no-untyped-def]
    ctx: click.Context,
    repo_id: str,
    private: bool,
    unroll,
    strip_system: bool,
    test_split: float,
    keep,
    include_incomplete: bool,
    session,
    model,
    since,
    tag,
    include_excluded,
    rating,
    min_rating,
) -> None:
    """Push episodes to the Hugging Face Hub as a dataset with a card (token: HF_TOKEN or saved login)."""
    import tempfile

    from finetune import hub

    options = _export_options(
        unroll,
        strip_system,
        test_split,
        make_filters(session, model, since, tag, include_excluded, rating, min_rating),
        include_incomplete,
    )
    _open(ctx).close()
    try:
        hub.token()
        folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="tracemill-push-"))
        counts = hub.build(_db(ctx), folder, repo_id, options)
        url = hub.push(folder, repo_id, private)
    except hub.HubError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"pushed {', '.join(f'{n} {s} rows' for s, n in counts.items())} to {url} ({'private' if private else 'public'})"
    )
