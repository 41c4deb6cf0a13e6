"""`tracemill store …`: maintain the store."""

from __future__ import annotations

import click

from proxy.cli.common import _db, common, main


@main.group()
def store() -> None:
    """Maintain the SQLite store."""


@store.command("recover")
@common
def store_recover(ctx: click.Context) -> None:
    """Load the spill file (written when SQLite was unavailable) back into the store."""
    from recorder.store.spill import recover

    db = _db(ctx)
    read, inserted = recover(db)
    click.echo(f"{db}: read {read} spilled rows, inserted {inserted} (the rest were already there)")
