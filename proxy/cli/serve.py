"""`tracemill serve | demo | wrap`: run the proxy, the offline demo, and the stdio wrapper."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from proxy.cli.common import _config, _setup_logging, common, main


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
    from proxy.cli.ui import viewer_note
    from proxy.guard import is_loopback_bind
    from proxy.server import serve as run
    from recorder.ingest.redact import mask_url
    from recorder.store import check

    check(config.store.path)  # a PostgreSQL URL without the driver: one line saying what to install
    mcp = f", MCP servers at /mcp/<{'|'.join(config.mcp_servers)}>" if config.mcp_servers else ""
    click.echo(
        f"tracemill listening on http://{config.server.host}:{config.server.port}/v1, "
        f"forwarding to {mask_url(config.llm.base_url)}{mcp}, recording to {store_name(config.store.path)} "
        f"(config: {config.source}); {viewer_note(config)}",
        err=True,
    )
    if not is_loopback_bind(config.server.host):
        click.echo(
            f"tracemill: warning: listening on {config.server.host}, not a loopback address: anyone who can reach "
            "it can use your upstream key and MCP servers. Requests must still name an allowed host and origin: "
            "set [server] allowed_hosts (the names clients use) and allowed_origins (browser clients) in proxy.toml.",
            err=True,
        )
    run(config)


@main.command()
@click.option(
    "--dialect",
    type=click.Choice(["chat", "responses", "anthropic", "all"]),
    default="chat",
    show_default=True,
    help="The API the agent speaks: Chat Completions, Responses, Anthropic Messages, or one conversation through each.",
)
@click.option("--ui", "with_ui", is_flag=True, help="Then keep serving the viewer on the demo's store (Ctrl-C ends).")
@click.option(
    "--port", type=int, help="With --ui: the viewer's port (default [server] port, 4000; a free one if taken)."
)
@common
def demo(ctx: click.Context, dialect: str, with_ui: bool, port: int | None) -> None:
    """Record a tool-calling conversation through the proxy and a built-in MCP server (offline, seconds).

    Prints the episode, with the MCP call linked to the tool call that asked for it, and one row
    of the training export. `--ui` then serves the viewer on the demo's store.
    """
    import json
    import tempfile

    from proxy.cli.render import console, exchanges_table, render_episode
    from proxy.fakes import demo as demo_mod
    from recorder.store import open_reader

    db = ctx.obj.get("db") or str(Path(tempfile.mkdtemp(prefix="tracemill-demo-")) / "demo.db")
    demo_mod.main(db, tuple(demo_mod.AGENTS) if dialect == "all" else (dialect,))
    with open_reader(db) as reader:
        rows = reader.exchanges(limit=10)
        (listed,) = reader.episodes(limit=1)
        episode = reader.episode(listed["id"])
        assert episode is not None
        linked, state = reader.links(episode.exchange_ids), reader.curation(episode.id)
    console.print(exchanges_table(list(reversed(rows))))
    console.print()
    if dialect == "all":
        console.print(f"one episode per dialect (tracemill traces list --db {db}); the newest, episode {episode.id}:")
    render_episode(console, episode, linked, state)
    from finetune.dataset.export import ExportOptions, iter_rows

    row = next(iter(iter_rows(db, ExportOptions(unroll="assistant"))))
    console.print(
        f"\nthe first of {episode.stats.get('turns', 0)} training rows (tracemill export out.jsonl --db {db} --unroll):"
    )
    console.print_json(json.dumps({**row, "tools": f"[{len(row['tools'])} tool definitions]"}, ensure_ascii=False))
    if with_ui:
        _serve_viewer(ctx, db, port)


def _serve_viewer(ctx: click.Context, db: str, port: int | None) -> None:
    import socket

    import uvicorn

    from proxy.cli.ui import viewer_url
    from proxy.ui import build

    config = _config(ctx, **{"store.path": db, "server.port": port})
    config.server.host = "127.0.0.1"
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", config.server.port))
        except OSError:
            if port is not None:
                raise click.ClickException(f"port {port} is taken; pass another --port") from None
            config.server.port = 0
    server = uvicorn.Server(
        uvicorn.Config(
            build(config, standalone=True),
            host="127.0.0.1",
            port=config.server.port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="off",
        )
    )
    original = server.startup

    async def announce(sockets: object = None) -> None:
        await original(sockets)  # type: ignore[arg-type]
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else config.server.port
        click.echo(f"\ntracemill viewer on the demo's store: {viewer_url('127.0.0.1', bound)}  (Ctrl-C to stop)")

    server.startup = announce  # type: ignore[method-assign]
    server.run()


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", required=True, help="The server's name in the record (and in proxy.toml).")
@click.option("--session", help="Session key to record under (default: wrap-<pid>).")
@click.option("--url", help="Bridge to a remote streamable HTTP server instead of a command.")
@click.option("--sse", "use_sse", is_flag=True, help="With --url: the remote server speaks legacy SSE.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@common
def wrap(
    ctx: click.Context, name: str, session: str | None, url: str | None, use_sse: bool, command: tuple[str, ...]
) -> None:
    """Relay and record a stdio MCP server: launch this in place of the server command.

    \b
      tracemill wrap --name everything -- npx -y @modelcontextprotocol/server-everything
      tracemill wrap --name remote --url https://example.com/mcp
    """
    from proxy.config import ConfigError, MCPServerConfig, load
    from proxy.mcp.inbound.stdio_wrap import run as run_wrap
    from recorder.store import check

    try:  # the config `serve` uses (--config, TRACEMILL_CONFIG, ./proxy.toml); other servers' unset ${VAR}s do not matter
        config = load(ctx.obj.get("config"), lenient_mcp=True, **{"store.path": ctx.obj.get("db")})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if name in config.mcp_errors and not (command or url):
        raise click.ClickException(config.mcp_errors[name])
    check(config.store.path)
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
    config.mcp_servers[name] = server  # so its env, headers and url secrets are masked like any configured server's
    logging.basicConfig(level=logging.WARNING, format="tracemill wrap: %(message)s", stream=sys.stderr)
    sys.exit(run_wrap(server, config, session))


def store_name(location: str) -> str:
    """What `serve` says it records to: the SQLite file's full path, or the URL without its password."""
    from recorder.store.location import is_postgres, masked

    return f"PostgreSQL {masked(location)}" if is_postgres(location) else str(Path(location).resolve())
