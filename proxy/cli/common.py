"""Shared by every command: the root group, config and store loading, --config/--db."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import click

from proxy.config import Config, ConfigError, load

if TYPE_CHECKING:
    from recorder.store.reader import TraceReader


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # httpx2 logs every request's full URL at INFO, query-string keys included.
    logging.getLogger("httpx2").setLevel(logging.WARNING)


def _config(ctx: click.Context, **overrides: Any) -> Config:
    try:
        return load(ctx.obj.get("config"), **{"store.path": ctx.obj.get("db"), **overrides})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _db(ctx: click.Context) -> str:
    return _config(ctx).store.path


def _open(ctx: click.Context) -> TraceReader:
    """The read API over the store; a missing or too-new store is a one-line error."""
    from recorder.store import open_reader
    from recorder.store.migrate import SchemaError

    try:
        return open_reader(_db(ctx))
    except (FileNotFoundError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default: ./proxy.toml if present)."
)
db_option = click.option(
    "--db", help="The store: a SQLite file, or a postgresql:// URL (default: [store] path or url, tracemill.db)."
)


def common(fn: Any) -> Any:
    """Every command takes --config and --db; they may also come before the command name."""

    @config_option
    @db_option
    @click.pass_context
    def wrapper(ctx: click.Context, /, config_path: str | None, db: str | None, **kwargs: Any) -> Any:
        ctx.ensure_object(dict)
        if config_path:
            ctx.obj["config"] = config_path
        if db:
            ctx.obj["db"] = db
        return ctx.invoke(fn, ctx, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@config_option
@db_option
@click.version_option(package_name="tracemill")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, db: str | None) -> None:
    """tracemill: record every LLM and MCP message your agent exchanges, then turn the
    recordings into datasets and fine-tuned models."""
    ctx.ensure_object(dict)
    ctx.obj.update({"config": config_path, "db": db})
