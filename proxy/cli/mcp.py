"""`tracemill mcp …`: import a client's MCP config, probe servers, list recorded tool calls."""

from __future__ import annotations

import json
from pathlib import Path

import click

from proxy.cli.common import _config, _open, common, main
from recorder.store.location import without_password


@main.group()
def mcp() -> None:
    """MCP servers: import a client config, check servers, list recorded tool calls."""


@mcp.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--write", is_flag=True, help="Rewrite the client config (keeping a .bak) and append to proxy.toml.")
@click.option("--proxy-url", default=None, help="Where clients reach tracemill (default: from [server]).")
@common
def mcp_import(ctx: click.Context, path: str, write: bool, proxy_url: str | None) -> None:
    """Turn a Claude Desktop, Claude Code, Cursor or VS Code MCP config into proxy.toml servers."""
    from proxy.mcp import client_config as imp

    named = ctx.obj.get("config")
    if named and not Path(named).exists():  # --config names the file to create: start from the defaults
        ctx.obj["config"] = None
        config = _config(ctx)
        ctx.obj["config"] = named
    else:
        config = _config(ctx)
    client_path = Path(path)
    data, key = imp.read_client_config(client_path)
    url = proxy_url or f"http://{config.server.host}:{config.server.port}"
    toml_path = Path(ctx.obj.get("config") or "proxy.toml").resolve()
    db = without_password(config.store.path)  # wrap finds the password where libpq looks: never in a client config
    if skipped := imp.convert(data, key, url, db)[2]:
        click.echo(f"# already pointing at tracemill, left alone: {', '.join(skipped)}", err=True)
    if not write:  # printed with every token masked; --write puts the real values in 0600 files
        toml_text, rewritten, _ = imp.convert(imp.masked(data, key), key, url, db, str(toml_path))
        click.echo("# --- add to proxy.toml (secrets masked) ---")
        click.echo(toml_text or "# (nothing to add)")
        click.echo(f"# --- {client_path}, pointed at tracemill (secrets masked) ---")
        click.echo(json.dumps(rewritten, indent=2))
        click.echo("# nothing was written; run again with --write to apply", err=True)
        return
    toml_text, rewritten, _ = imp.convert(data, key, url, db, str(toml_path))
    for line in imp.write(client_path, rewritten, toml_path, toml_text):
        click.echo(f"wrote {line}")


@mcp.command("servers")
@click.option("--json", "as_json", is_flag=True)
@common
def mcp_servers(ctx: click.Context, as_json: bool) -> None:
    """Show the configured MCP servers, whether they answer, and their tool counts."""
    import asyncio

    from proxy.mcp.probe import probe_all

    config = _config(ctx)
    if not config.mcp_servers:
        raise click.ClickException(f"no [mcp.servers.*] in {config.source}; see proxy.toml for examples")
    results = asyncio.run(probe_all(list(config.mcp_servers.values())))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    from rich.table import Table

    from proxy.cli.render import console

    table = Table(box=None, header_style="bold")
    for col in ("name", "transport", "target", "reachable", "tools", "ms", "note"):
        table.add_column(col)
    for r in results:
        server = config.mcp_servers[r["name"]]
        target = server.target()  # URL secrets and secret flag values masked
        ok = "[green]yes[/]" if r["reachable"] else "[red]no[/]"
        table.add_row(
            r["name"],
            r["transport"],
            target[:60],
            ok,
            str(r["tools"] if r["tools"] is not None else "-"),
            str(r["ms"]),
            r["error"] or "",
        )
    console.print(table)


@mcp.command("calls")
@click.option("--server")
@click.option("--session")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@common
def mcp_calls(ctx: click.Context, server: str | None, session: str | None, limit: int, as_json: bool) -> None:
    """List recorded MCP tool calls: arguments, a result summary and the latency."""
    with _open(ctx) as reader:
        calls = reader.mcp_calls(server=server, session=session, limit=limit)
    if as_json:
        for call in calls:
            click.echo(json.dumps(call))
        return
    from rich.table import Table

    from proxy.cli.render import console, when

    table = Table(box=None, header_style="bold")
    for col in ("id", "time", "server", "session", "tool", "arguments", "result", "ms"):
        table.add_column(col, overflow="fold" if col in ("arguments", "result") else "ellipsis")
    for c in calls:
        result = ("[red]✗ [/]" if c["is_error"] else "") + (c["summary"] or "[dim](no answer)[/]")
        latency = f"{c['latency_ms']:.1f}" if c["latency_ms"] is not None else "-"
        table.add_row(
            str(c["id"]),
            when(c["at"])[5:],
            c["server"],
            (c["session"] or "-")[:16],
            c["tool"] or "?",
            json.dumps(c["arguments"])[:80],
            result[:100],
            latency,
        )
    console.print(table if calls else "no MCP tool calls recorded yet")
