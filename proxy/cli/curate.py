"""`tracemill traces rate | edit`: the curation steps that make preference and reward data."""

from __future__ import annotations

import click

from proxy.cli.common import common
from proxy.cli.traces import _curate, _episode_id, traces


@traces.command("rate")
@click.argument("episode_id", type=int)
@click.argument("rating")
@common
def traces_rate(ctx: click.Context, episode_id: int, rating: str) -> None:
    """Rate an episode: good, bad, or a numeric reward (export with --rating / --min-rating)."""
    from recorder.episodes.curation import parse_rating

    try:
        value = parse_rating(rating)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    _curate(ctx, episode_id, "rate", value=value)


@traces.command("edit")
@click.argument("episode_id", type=int)
@click.argument("index", type=int)
@click.option("--content", help="The assistant turn's new content.")
@click.option("--tool-call", "tool_call", type=int, help="Which tool call of the turn (0-based) gets --arguments.")
@click.option("--arguments", help="The tool call's new arguments, as JSON.")
@common
def traces_edit(
    ctx: click.Context, episode_id: int, index: int, content: str | None, tool_call: int | None, arguments: str | None
) -> None:
    """Edit assistant message INDEX (as `traces show` numbers it); the original stays recorded.

    \b
    Exports use the edit; `export --format dpo` pairs it (chosen) with the original (rejected).
      tracemill traces edit 12 5 --content "The weather in Paris is 18°C."
      tracemill traces edit 12 3 --tool-call 0 --arguments '{"city": "Paris"}'
    """
    from recorder.episodes import curation

    if (tool_call is None) != (arguments is None):
        raise click.UsageError("--tool-call and --arguments go together")
    if content is None and tool_call is None:
        raise click.UsageError("give --content, or --tool-call N --arguments JSON")
    with _episode_id(ctx, episode_id) as reader:
        episode = reader.episode(episode_id)
        assert episode is not None
        steps = []
        try:
            if content is not None:
                steps.append(curation.check_edit(episode.messages, index, content=content))
            if tool_call is not None:
                steps.append(curation.check_edit(episode.messages, index, tool_call=tool_call, arguments=arguments))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        for step in steps:
            reader.curate(episode_id, "edit", **step)
            click.echo(
                f"episode {episode_id}: edit message {index} "
                + (f"tool call {tool_call} arguments" if "tool_call" in step else "content")
            )
