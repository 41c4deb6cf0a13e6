"""`tracemill store …`: maintain a store: load spill files back, copy between stores, prune."""

from __future__ import annotations

from pathlib import Path

import click

from proxy.cli.common import _db, common, main


@main.group()
def store() -> None:
    """Maintain the store (a SQLite file or a PostgreSQL database)."""


@store.command("recover")
@click.argument("spill_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@common
def store_recover(ctx: click.Context, spill_file: Path | None) -> None:
    """Load the spill file (written while the store was unavailable) back into the store.

    Without SPILL_FILE, the store's own spill file; with it, any spill file, e.g. one a SQLite setup
    wrote, into the configured store (SQLite or PostgreSQL).
    """
    from recorder.store import check
    from recorder.store.location import masked, spill_path
    from recorder.store.spill import recover

    db = _db(ctx)
    check(db)  # a PostgreSQL URL without the driver: say so, even with nothing to load
    read, inserted = recover(db, spill_file)
    source = spill_file or spill_path(db)
    click.echo(
        f"{masked(db)}: read {read} spilled rows from {source}, inserted {inserted} (the rest were already there)"
    )


@store.command("copy")
@click.argument("source")
@click.argument("destination")
def store_copy(source: str, destination: str) -> None:
    """Copy every recording, and the curation, from SOURCE into DESTINATION.

    Each is a SQLite file or a postgresql:// URL; DESTINATION is created if needed. Rerunning copies
    nothing twice (exchanges and messages are matched by uid), so a developer's local store can join
    the team's database as often as they like:

    \b
      tracemill store copy tracemill.db postgresql://me@db.example/tracemill
    """
    from rich.progress import Progress

    from recorder.store.copy import copy_store
    from recorder.store.location import masked

    with Progress(transient=True) as bar:
        tasks: dict[str, object] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(f"copying {table}", total=total)
            bar.update(tasks[table], completed=done)  # type: ignore[arg-type]

        try:
            report = copy_store(source, destination, progress)
        except (FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    parts = [f"{report.added[t]} of {report.read[t]} {t.replace('_', ' ')}" for t in ("exchanges", "mcp_messages")]
    curated = f"{report.curation_added} of {report.curation_read} curation steps"
    orphans = f" ({report.curation_orphans} had no episode to attach to)" if report.curation_orphans else ""
    click.echo(f"copied {', '.join(parts)} and {curated}{orphans} from {masked(source)} to {masked(destination)}")


@store.command("prune")
@click.option("--before", required=True, help="Delete what is older: an ISO date (2026-01-31) or an age (90d, 12h).")
@click.option("--keep-tagged", is_flag=True, help="Keep old episodes that have a tag, with their exchanges.")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted, and delete nothing.")
@common
def store_prune(ctx: click.Context, before: str, keep_tagged: bool, dry_run: bool) -> None:
    """Delete old exchanges and MCP messages with their episodes, links and curation; report what went."""
    from proxy.cli.traces import parse_since
    from recorder.store.location import masked
    from recorder.store.prune import prune_store

    cutoff = parse_since(before)
    assert cutoff is not None
    db = _db(ctx)
    try:
        report = prune_store(db, cutoff, keep_tagged, dry_run)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    d = report.deleted
    verb = "would delete" if dry_run else "deleted"
    kept = f"; kept {report.kept_tagged} tagged episodes" if report.kept_tagged else ""
    click.echo(
        f"{masked(db)}: {verb} {d['exchanges']} exchanges, {d['mcp_messages']} MCP messages, {d['episodes']} episodes "
        f"({d['curation']} curation steps, {d['links']} links), about {report.body_bytes / 1e6:.1f} MB of bodies{kept}"
    )
