"""`tracemill exchanges [show]`: what the LLM relay recorded."""

from __future__ import annotations

import json

import click

from proxy.cli.common import _open, common, main


@main.group(invoke_without_command=True)
@click.option("--limit", default=50, show_default=True)
@click.option("--session")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@common
def exchanges(ctx: click.Context, limit: int, session: str | None, as_json: bool) -> None:
    """List recorded LLM exchanges, newest first (`exchanges show ID` for one)."""
    if ctx.invoked_subcommand:
        return
    with _open(ctx) as reader:
        rows = reader.exchanges(limit=limit, session=session)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    from proxy.cli.render import console, exchanges_table

    console.print(exchanges_table(rows) if rows else "no exchanges recorded yet")


@exchanges.command("show")
@click.argument("exchange_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@common
def exchanges_show(ctx: click.Context, exchange_id: int, as_json: bool) -> None:
    """Print one exchange in full: parameters, messages, reasoning and tool calls."""
    with _open(ctx) as reader:
        ex = reader.exchange(exchange_id)
        if ex is not None and (tokens := reader.exchange_tokens(exchange_id)):
            ex["tokens"] = tokens  # [llm] capture_tokens: ids per choice, or why there are none
    if ex is None:
        raise click.ClickException(f"no exchange {exchange_id}")
    if as_json:
        click.echo(json.dumps(ex, indent=2, ensure_ascii=False))
        return
    from proxy.cli.render import show_exchange

    show_exchange(ex)
