"""The `tracemill` command. Heavy imports wait inside each command, so `wrap` starts fast."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from proxy.config import Config, ConfigError, load


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def _config(ctx: click.Context, **overrides: Any) -> Config:
    try:
        return load(ctx.obj.get("config"), **{"store.path": ctx.obj.get("db"), **overrides})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _db(ctx: click.Context) -> str:
    return _config(ctx).store.path


def _open(ctx: click.Context) -> Any:
    from recorder.query import open_db

    try:
        return open_db(_db(ctx))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default: ./proxy.toml if present).")
db_option = click.option("--db", type=click.Path(dir_okay=False), help="SQLite store (default: [store].path, tracemill.db).")


def common(fn: Any) -> Any:
    """Every command takes --config and --db; they may also come before the command name."""

    @config_option
    @db_option
    @click.pass_context
    def wrapper(ctx: click.Context, config_path: str | None, db: str | None, **kwargs: Any) -> Any:
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


@main.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 4000).")
@click.option("--upstream", help="Upstream OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("-v", "--verbose", is_flag=True)
@common
def serve(ctx: click.Context, host: str | None, port: int | None, upstream: str | None, verbose: bool) -> None:
    """Run the recording proxy."""
    config = _config(ctx, **{"server.host": host, "server.port": port, "llm.base_url": upstream})
    _setup_logging(verbose)
    from proxy.server import serve as run

    mcp = f", MCP servers at /mcp/<{'|'.join(config.mcp_servers)}>" if config.mcp_servers else ""
    click.echo(
        f"tracemill listening on http://{config.server.host}:{config.server.port}/v1, "
        f"forwarding to {config.llm.base_url}{mcp}, recording to {Path(config.store.path).resolve()} "
        f"(config: {config.source})",
        err=True,
    )
    run(config)


@main.command()
@common
def demo(ctx: click.Context) -> None:
    """Record a short tool-calling conversation against a built-in scripted Qwen3 (offline, seconds)."""
    import tempfile

    from proxy import demo as demo_mod
    from proxy.render import console, exchanges_table, show_exchange
    from recorder.query import get_exchange, list_exchanges, open_db

    db = ctx.obj.get("db") or str(Path(tempfile.mkdtemp(prefix="tracemill-demo-")) / "demo.db")
    demo_mod.main(db)
    conn = open_db(db)
    rows = list_exchanges(conn, limit=10)
    console.print(exchanges_table(list(reversed(rows))))
    console.print()
    ex = get_exchange(conn, rows[0]["id"])
    assert ex is not None
    show_exchange(ex)
    click.echo(f"\nInspect it yourself: tracemill exchanges --db {db}")


@main.group(invoke_without_command=True)
@click.option("--limit", default=50, show_default=True)
@click.option("--session")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@common
def exchanges(ctx: click.Context, limit: int, session: str | None, as_json: bool) -> None:
    """List recorded LLM exchanges, newest first (`exchanges show ID` for one)."""
    if ctx.invoked_subcommand:
        return
    from recorder.query import list_exchanges

    rows = list_exchanges(_open(ctx), limit, session)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    from proxy.render import console, exchanges_table

    console.print(exchanges_table(rows) if rows else "no exchanges recorded yet")


@exchanges.command("show")
@click.argument("exchange_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@common
def exchanges_show(ctx: click.Context, exchange_id: int, as_json: bool) -> None:
    """Print one exchange in full: parameters, messages, reasoning and tool calls."""
    from recorder.query import get_exchange

    ex = get_exchange(_open(ctx), exchange_id)
    if ex is None:
        raise click.ClickException(f"no exchange {exchange_id}")
    if as_json:
        click.echo(json.dumps(ex, indent=2, ensure_ascii=False))
        return
    from proxy.render import show_exchange

    show_exchange(ex)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", required=True, help="The server's name in the record (and in proxy.toml).")
@click.option("--session", help="Session key to record under (default: wrap-<pid>).")
@click.option("--url", help="Bridge to a remote streamable HTTP server instead of a command.")
@click.option("--sse", "use_sse", is_flag=True, help="With --url: the remote server speaks legacy SSE.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@common
def wrap(ctx: click.Context, name: str, session: str | None, url: str | None, use_sse: bool, command: tuple[str, ...]) -> None:
    """Relay and record a stdio MCP server: launch this in place of the server command.

    \b
      tracemill wrap --name everything -- npx -y @modelcontextprotocol/server-everything
      tracemill wrap --name remote --url https://example.com/mcp
    """
    from proxy.config import MCPServerConfig
    from proxy.mcp_stdio import run as run_wrap

    config = _config(ctx)
    if command and url:
        raise click.UsageError("give either a command after -- or --url, not both")
    if command:
        server = MCPServerConfig(name=name, command=command[0], args=list(command[1:]))
    elif url:
        server = MCPServerConfig(name=name, url=url, transport="sse" if use_sse else "http")
    elif name in config.mcp_servers:
        server = config.mcp_servers[name]
    else:
        raise click.UsageError(f"no command after --, no --url, and no [mcp.servers.{name}] in {config.source}")
    if name in config.mcp_servers and (command or url):
        server.env = {**config.mcp_servers[name].env, **server.env}
        server.headers = config.mcp_servers[name].headers
    logging.basicConfig(level=logging.WARNING, format="tracemill wrap: %(message)s", stream=sys.stderr)
    sys.exit(run_wrap(server, config, session))


@main.group()
def store() -> None:
    """Maintain the SQLite store."""


@store.command("recover")
@common
def store_recover(ctx: click.Context) -> None:
    """Load the spill file (written when SQLite was unavailable) back into the store."""
    from recorder.store import recover

    db = _db(ctx)
    read, inserted = recover(db)
    click.echo(f"{db}: read {read} spilled rows, inserted {inserted} (the rest were already there)")


from proxy import cli_data, cli_mcp, cli_train  # noqa: E402,F401  (they register their commands on `main`)


def run() -> None:
    try:
        main(obj={})
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
