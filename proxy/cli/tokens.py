"""Token-exact traces on the command line: `export --format tokens` and `traces drift`.

The ids come from `[llm] capture_tokens`; the logic lives in finetune/dataset/tokens.py and
finetune/dataset/drift.py, reached lazily from here.
"""

from __future__ import annotations

import json
from typing import Any

import click

from proxy.cli.common import _db, _open, common
from proxy.cli.traces import filter_options, make_filters, rating_options, traces


def _tokenizer(name: str | None) -> Any:
    if not name:
        raise click.UsageError("--tokenizer is required: the model's tokenizer, a local folder or a Hub id")
    from finetune.dataset.tokens import load_tokenizer

    try:
        return load_tokenizer(name)
    except Exception as exc:
        raise click.ClickException(
            f"cannot load the tokenizer {name!r}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def export_tokens(
    ctx: click.Context, out: str, fmt: str, tokenizer: str | None, other_options: bool, options: Any
) -> None:
    """`tracemill export OUT --format tokens --tokenizer T [--stitch]`."""
    if fmt != "tokens":
        raise click.UsageError("--tokenizer and --stitch go with --format tokens")
    if other_options:
        raise click.UsageError(
            "--format tokens keeps the ids the model saw: --unroll, --strip-system and --test-split do not apply"
        )
    from finetune.dataset.tokens import write

    tok = _tokenizer(tokenizer)
    _open(ctx).close()
    summary = write(_db(ctx), out, tok, options)
    kind = "parquet" if out.endswith(".parquet") else "jsonl"
    click.echo(f"wrote {summary.rows} {'stitched ' if options.stitched else ''}token rows to {out} ({kind})")
    for line in summary.lines():
        click.echo(line)


def _show(turn: Any) -> str:
    where = f"turn {turn.turn}" + (f" (exchange {turn.exchange})" if turn.exchange else "")
    if turn.status == "same":
        return f"{where}: same ids ({turn.tokens} tokens)"
    if turn.status == "no ids":
        return f"{where}: no ids recorded"
    if turn.status == "unrendered":
        return f"{where}: the chat template does not render it as a turn"
    if turn.status == "split":  # the same text: show where the tokens split
        recorded, rendered = " ".join(map(repr, turn.recorded_tokens)), " ".join(map(repr, turn.rendered_tokens))
        kind = "same text, other tokens"
    else:
        recorded, rendered, kind = repr(turn.recorded), repr(turn.rendered), "other text"
    head = f"{where}: drifts at token {turn.at} ({kind}), after {turn.context!r}"
    return f"{head}\n    recorded: {recorded}\n    template: {rendered}"


@traces.command("drift")
@click.argument("episode_id", type=int, required=False)
@click.option("--all", "all_", is_flag=True, help="Summarise every episode (with the filters) instead of one.")
@click.option(
    "--tokenizer", required=True, help="The model's tokenizer (a local folder or Hub id), with its chat template."
)
@click.option(
    "--unrolled",
    is_flag=True,
    help="Render each turn as the last message of its own row, as `tracemill finetune` does.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per turn (per episode with --all).")
@filter_options
@rating_options
@common
def traces_drift(
    ctx: click.Context,
    episode_id: int | None,
    all_: bool,
    tokenizer: str,
    unrolled: bool,
    as_json: bool,
    session: str | None,
    model: str | None,
    since: str | None,
    tag: str | None,
    include_excluded: bool,
    rating: str | None,
    min_rating: float | None,
) -> None:
    """Where re-rendering the recorded messages gives other tokens than the model generated.

    Per assistant turn, the recorded completion ids (from [llm] capture_tokens) are compared with
    the ids the chat template produces for the recorded messages; the first divergence is shown
    decoded on both sides. --all counts the turns a template-rendered dataset would train on
    tokens the model never produced.
    """
    from finetune.dataset.drift import DriftError, drift_of, summarise

    if (episode_id is None) == (not all_):
        raise click.UsageError("give an EPISODE_ID or --all")
    tok = _tokenizer(tokenizer)
    _open(ctx).close()
    try:
        if episode_id is not None:
            turns = drift_of(_db(ctx), tok, episode_id, unrolled)
            for turn in turns:
                click.echo(
                    json.dumps({**turn.__dict__, "drifts": turn.drifts}, ensure_ascii=False) if as_json else _show(turn)
                )
            return
        summary = summarise(
            _db(ctx), tok, make_filters(session, model, since, tag, include_excluded, rating, min_rating), unrolled
        )
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    except DriftError as exc:
        raise click.ClickException(str(exc)) from None
    counts = summary.counts
    if as_json:
        click.echo(
            json.dumps({"episodes": summary.episodes, "turns": summary.turns, "drifting": summary.drifting, **counts})
        )
        return
    with_ids = summary.turns - counts["no ids"]
    click.echo(
        f"{summary.episodes} episodes, {summary.turns} assistant turns, {with_ids} with recorded ids: "
        f"{summary.drifting} would train on tokens the model never produced "
        f"({counts['text']} with other text, {counts['split']} with the same text split into other tokens); "
        f"{counts['same']} render to the same ids; {counts['no ids']} have no ids to compare"
    )
    for drifting, episode in summary.worst[:10]:
        click.echo(
            f"  episode {episode}: {drifting} drifting turn(s)  (traces drift {episode} --tokenizer {tokenizer})"
        )
