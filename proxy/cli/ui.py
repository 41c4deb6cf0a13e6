"""`tracemill ui`: the viewer alone, for offline review of a store (also at /ui; / redirects there)."""

from __future__ import annotations

import click

from proxy.cli.common import _config, _open, _setup_logging, common, main
from proxy.cli.serve import store_name


def viewer_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else '[::1]' if host == '::' else shown}:{port}/ui/"


def viewer_note(config: object) -> str:
    """One line about the viewer for the startup message: where, or why it is off."""
    from proxy.ui.guard import is_loopback

    server, ui = config.server, config.ui  # type: ignore[attr-defined]
    if not ui.enabled:
        return "viewer off ([ui] enabled = false)"
    if not is_loopback(server.host) and not ui.token:
        return f"viewer off: {server.host} is not a loopback address; set [ui] token to turn it on behind a token"
    return f"viewer at {viewer_url(server.host, server.port)}" + (" (asks for [ui] token)" if ui.token else "")


@main.command()
@click.option("--host", help="Address to bind (default: [server] host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: [server] port, 4000).")
@click.option("-v", "--verbose", is_flag=True)
@common
def ui(ctx: click.Context, host: str | None, port: int | None, verbose: bool) -> None:
    """Serve the web viewer alone on a store: browse, curate and export in a browser.

    While `tracemill serve` runs, its own viewer is at http://127.0.0.1:4000/ui on the same port.
    """
    import uvicorn

    from proxy.ui import build

    config = _config(ctx, **{"server.host": host, "server.port": port})
    _open(ctx).close()  # a missing store is a one-line error, not an empty viewer
    config.ui.enabled = True
    _setup_logging(verbose)
    app = build(config, standalone=True)
    click.echo(f"tracemill {viewer_note(config)}, reading {store_name(config.store.path)}", err=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.server.host,
            port=config.server.port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="off",
        )
    )
    try:
        server.run()
    except SystemExit:  # uvicorn has logged why it could not bind
        raise click.ClickException(
            f"cannot listen on {config.server.host}:{config.server.port} (is `tracemill serve` there? pass --port)"
        ) from None
