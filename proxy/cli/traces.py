"""`tracemill traces | import | export | push`: from recordings to datasets.

The CLI is the composition root: it is the one place that reaches `finetune`, lazily.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from proxy.cli.common import _open, common, main

if TYPE_CHECKING:
    from recorder.store.reader import TraceReader


def parse_since(value: str | None) -> float | None:
    """An ISO date/time, or a duration back from now: 30m, 12h, 7d."""
    if not value:
        return None
    units = {"m": 60, "h": 3600, "d": 86400}
    if value[-1] in units and value[:-1].isdigit():
        return (datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])).timestamp()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use an ISO date (2026-11-01) or a duration (30m, 12h, 7d)") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def filter_options(fn: Any, with_model: bool = True) -> Any:
    options = [
        click.option("--session", help="Only this session key."),
        click.option("--model", help="Only models whose name contains this.") if with_model else None,
        click.option("--since", help="Only episodes since an ISO date or a duration (7d, 12h)."),
        click.option("--tag", help="Only episodes with this tag."),
        click.option("--include-excluded", is_flag=True, help="Also episodes marked `exclude`."),
    ]
    for option in reversed([o for o in options if o is not None]):
        fn = option(fn)
    return fn


def episode_filter_options(fn: Any) -> Any:
    """The filters, for commands whose own --model names a model to train or evaluate."""
    return filter_options(fn, with_model=False)


def _check_rating(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from recorder.episodes.filters import RATING_CHOICES

    if value is None or value.lower() in RATING_CHOICES:
        return value.lower() if value else None
    try:
        return str(float(value))
    except ValueError:
        raise click.BadParameter(f"{value!r}: use {', '.join(RATING_CHOICES)} or a number") from None


def rating_options(fn: Any) -> Any:
    """--rating and --min-rating, for the commands that list or export episodes."""
    fn = click.option(
        "--min-rating", type=float, help="Only episodes rated at least this (good counts as 1, bad as 0)."
    )(fn)
    return click.option(
        "--rating", callback=_check_rating, help="Only episodes rated good, bad, rated, unrated, or this reward."
    )(fn)


def make_filters(
    session: str | None,
    model: str | None,
    since: str | None,
    tag: str | None,
    include_excluded: bool,
    rating: str | None = None,
    min_rating: float | None = None,
    search: str | None = None,
) -> Any:
    from recorder.episodes.filters import Filters

    return Filters(
        session=session,
        model=model,
        since=parse_since(since),
        tag=tag,
        include_excluded=include_excluded,
        rating=rating,
        min_rating=min_rating,
        search=search,
    )


@main.group()
def traces() -> None:
    """Episodes: list, show and curate (curation never changes the raw recordings)."""


@traces.command("list")
@filter_options
@rating_options
@click.option("--search", help="Only episodes whose first user message contains this text.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@common
def traces_list(  # type: ignore[no-untyped-def]
    ctx: click.Context,
    session,
    model,
    since,
    tag,
    include_excluded,
    rating,
    min_rating,
    search,
    limit: int,
    as_json: bool,
) -> None:
    """List episodes, newest first: id, start, model, turns, tool calls, tokens, tags, first user message."""
    with _open(ctx) as reader:
        rows = reader.episodes(
            make_filters(session, model, since, tag, include_excluded, rating, min_rating, search), limit=limit
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    from rich.table import Table

    from proxy.cli.render import console, when

    table = Table(box=None, header_style="bold")
    for col in (
        "id",
        "started",
        "model",
        "session",
        "turns",
        "calls",
        "tokens",
        "tags",
        "rating",
        "first user message",
    ):
        table.add_column(
            col, overflow="fold" if col == "first user message" else "ellipsis", no_wrap=col != "first user message"
        )
    for r in rows:
        tags = ",".join(r["tags"]) + (" [red]excluded[/]" if r["excluded"] else "")
        table.add_row(
            str(r["id"]),
            when(r["started_at"])[5:],
            (r["model"] or "-")[-24:],
            (r["session"] or "-")[:18],
            str(r["turns"]),
            str(r["tool_calls"]),
            f"{r['prompt_tokens']}/{r['completion_tokens']}",
            tags,
            str(r["rating"] if r["rating"] is not None else "-"),
            (r["first_user"] or "").replace("\n", " ")[:100],
        )
    console.print(table if rows else "no episodes yet (record some traffic, or `tracemill import` trace files)")


def _episode_id(ctx: click.Context, episode_id: int) -> TraceReader:
    """The read API, once the episode is known to exist."""
    reader = _open(ctx)
    if not reader.has_episode(episode_id):
        reader.close()
        raise click.ClickException(f"no episode {episode_id} (see `tracemill traces list`)")
    return reader


@traces.command("show")
@click.argument("episode_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The export row, with links.")
@common
def traces_show(ctx: click.Context, episode_id: int, as_json: bool) -> None:
    """Render one episode: roles, dimmed reasoning, pretty tool calls and results, linked MCP calls."""
    with _episode_id(ctx, episode_id) as reader:
        episode = reader.episode(episode_id)
        assert episode is not None
        linked = reader.links(episode.exchange_ids)
        state = reader.curation(episode_id)
    if as_json:
        payload = {
            "episode": episode.__dict__,
            "links": linked,
            "tags": sorted(state.tags),
            "rating": state.rating,
            "edits": state.edits,
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
        return
    from proxy.cli.render import console, render_episode

    render_episode(console, episode, linked, state)


def _curate(ctx: click.Context, episode_id: int, action: str, **args: Any) -> None:
    with _episode_id(ctx, episode_id) as reader:
        reader.curate(episode_id, action, **args)
    click.echo(f"episode {episode_id}: {action} {' '.join(str(v) for v in args.values())}".rstrip())


@traces.command("tag")
@click.argument("episode_id", type=int)
@click.argument("tags", nargs=-1, required=True)
@common
def traces_tag(ctx: click.Context, episode_id: int, tags: tuple[str, ...]) -> None:
    """Add tags to an episode."""
    _curate(ctx, episode_id, "tag", tags=list(tags))


@traces.command("untag")
@click.argument("episode_id", type=int)
@click.argument("tags", nargs=-1, required=True)
@common
def traces_untag(ctx: click.Context, episode_id: int, tags: tuple[str, ...]) -> None:
    """Remove tags from an episode."""
    _curate(ctx, episode_id, "untag", tags=list(tags))


@traces.command("exclude")
@click.argument("episode_id", type=int)
@common
def traces_exclude(ctx: click.Context, episode_id: int) -> None:
    """Leave an episode out of exports."""
    _curate(ctx, episode_id, "exclude")


@traces.command("include")
@click.argument("episode_id", type=int)
@common
def traces_include(ctx: click.Context, episode_id: int) -> None:
    """Put an excluded episode back into exports."""
    _curate(ctx, episode_id, "include")


@traces.command("drop-turns")
@click.argument("episode_id", type=int)
@click.argument("span")
@common
def traces_drop(ctx: click.Context, episode_id: int, span: str) -> None:
    """Remove messages N..M (0-based, inclusive, as `traces show` numbers them) from the export."""
    start, _, end = span.partition("..")
    try:
        first, last = int(start), int(end or start)
    except ValueError:
        raise click.BadParameter(f"{span!r}: use N..M, e.g. 3..5, or one index") from None
    if first > last or first < 0:
        raise click.BadParameter(f"{span!r}: N must be >= 0 and <= M")
    _curate(ctx, episode_id, "drop_turns", start=first, end=last)


@traces.command("strip-system")
@click.argument("episode_id", type=int)
@common
def traces_strip(ctx: click.Context, episode_id: int) -> None:
    """Remove the system prompt that guided generation from the export."""
    _curate(ctx, episode_id, "strip_system")


@traces.command("undo")
@click.argument("episode_id", type=int)
@common
def traces_undo(ctx: click.Context, episode_id: int) -> None:
    """Undo the latest curation step still in force on an episode."""
    with _episode_id(ctx, episode_id) as reader:
        step = reader.undo(episode_id)
    click.echo(
        f"episode {episode_id}: undid {step['action']} {json.dumps(step['args'])}"
        if step
        else f"episode {episode_id}: nothing to undo"
    )


@traces.command("history")
@click.argument("episode_id", type=int)
@common
def traces_history(ctx: click.Context, episode_id: int) -> None:
    """The curation log of an episode."""
    with _episode_id(ctx, episode_id) as reader:
        steps = reader.curation_history(episode_id)
    for step in steps:
        flag = "" if step["in_force"] else " (undone)"
        click.echo(
            f"#{step['id']} {datetime.fromtimestamp(step['at']).isoformat(timespec='seconds')} {step['action']} {json.dumps(step['args'])}{flag}"
        )
