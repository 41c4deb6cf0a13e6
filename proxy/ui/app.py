"""The viewer as an ASGI app: routes under /ui, Jinja2 templates, vendored static files, the guard.

`tracemill serve` sends every /ui request here (the LLM and MCP routes never come near it);
`tracemill ui` serves it alone. Handlers are sync and run in Starlette's thread pool, so a slow
page never blocks the proxy's event loop.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from proxy.config import Config
from proxy.ui.guard import Guard
from proxy.ui.jobs import Jobs
from proxy.ui.reads import Reads
from recorder.store.location import is_postgres

STATIC = Path(__file__).parent / "static"
# Trace content is data, never code: no inline script runs even if escaping were ever missed.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:.0f} ms"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


class Viewer:
    """What every handler needs: the reads, the templates, the guard's token, the export jobs."""

    def __init__(self, config: Config, guard: Guard | None = None) -> None:
        self.config = config
        self.reads = Reads(config.store.path)
        self.jobs = Jobs(self)
        self.guard = guard
        self.env = Environment(loader=PackageLoader("proxy.ui", "templates"), autoescape=True)
        self.env.filters.update(when=when, ms=ms, number=number)
        self.started = time.time()

    @property
    def export_dir(self) -> Path:
        return (
            Path(self.config.ui.export_dir)
            if self.config.ui.export_dir
            else Path("exports").resolve()  # a PostgreSQL store has no folder: the working directory's
            if is_postgres(self.config.store.path)
            else Path(self.config.store.path).resolve().parent / "exports"
        )

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            request=request, token=self.guard.csrf_token if self.guard else "", **context
        )
        return HTMLResponse(html, status_code=status)


def build(config: Config, *, standalone: bool = False) -> Any:
    """The guarded viewer app; `standalone` also redirects / to /ui/."""
    from proxy.ui import actions, exports, pages, records

    viewer = Viewer(config)
    routes = [
        Route("/", pages.home),
        Route("/login", pages.login, methods=["GET", "POST"]),
        *pages.routes,
        *records.routes,
        *actions.routes,
        *exports.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=[Mount("/ui", routes=routes), Route("/ui", lambda r: RedirectResponse("/ui/", 308))]
        + ([Route("/", lambda r: RedirectResponse("/ui/", 307))] if standalone else [])
    )
    app.state.viewer = viewer

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        """Server-Timing on every response: the figure the viewer benchmark reads."""
        t0 = time.perf_counter()

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - t0) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"server-timing", f"app;dur={elapsed:.1f}".encode()),
                ]
            await send(message)

        await app(scope, receive, send_with_headers)

    ui = config.ui
    guard = Guard(
        timed,
        bind_host=config.server.host,
        login_token=ui.token,
        allowed_hosts=getattr(config.server, "allowed_hosts", ()),
        allowed_origins=getattr(config.server, "allowed_origins", ()),
    )
    viewer.guard = guard
    return guard


def not_found(viewer: Viewer, request: Request, what: str) -> Response:
    return viewer.page(request, "message.html", status=404, title="Not found", message=what)
