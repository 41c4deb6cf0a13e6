"""The pages over raw records and aggregates: exchanges, one exchange, MCP servers and calls, the overview."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from proxy.ui import charts
from proxy.ui.app import Viewer, not_found
from proxy.ui.params import int_of, query

BODY_LIMIT = 256 * 1024  # characters of pretty JSON shown inline; the rest is a download away


def _viewer(request: Request) -> Viewer:
    return request.app.state.viewer  # type: ignore[no-any-return]


def exchanges(request: Request) -> Response:
    viewer = _viewer(request)
    p = request.query_params
    raw = {k: p.get(k, "") for k in ("session", "model", "path", "failed")}
    before = int_of(p.get("before"), 0, 0, 2**62) or None
    limit = int_of(p.get("limit"), 50, 1, 500)
    rows = viewer.reads.reader.exchange_page(
        limit=limit,
        before=before,
        session=raw["session"] or None,
        model=raw["model"] or None,
        path=raw["path"] or None,
        failed=bool(raw["failed"]),
    )
    older = query(raw, before=rows[-1]["id"]) if len(rows) == limit else None
    return viewer.page(request, "exchanges.html", rows=rows, raw=raw, older=older)


def _pretty(value: object) -> tuple[str, bool]:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return (text[:BODY_LIMIT], True) if len(text) > BODY_LIMIT else (text, False)


def _body_context(viewer: Viewer, exchange_id: int) -> dict[str, Any] | None:
    reader = viewer.reads.reader
    ex = reader.exchange(exchange_id)
    if ex is None:
        return None
    ex["episode_id"] = reader.episode_of(exchange_id)
    parts = []
    for label, key in (
        ("request", "request_json"),
        ("request body (not JSON)", "request_raw"),
        ("response", "response_json"),
        ("raw response bytes (SSE as sent)", "response_raw"),
    ):
        if ex.get(key) not in (None, ""):
            text, cut = _pretty(ex[key])
            parts.append({"label": label, "text": text, "cut": cut, "key": key})
    headers = [
        (label, ex.get(key))
        for label, key in (("request headers", "request_headers"), ("response headers", "response_headers"))
    ]
    return {
        "ex": ex,
        "parts": parts,
        "headers": [(label, json.dumps(h, ensure_ascii=False)) for label, h in headers if h],
    }


def exchange(request: Request) -> Response:
    viewer = _viewer(request)
    context = _body_context(viewer, int(request.path_params["exchange_id"]))
    if context is None:
        return not_found(viewer, request, f"There is no exchange {request.path_params['exchange_id']}.")
    return viewer.page(request, "exchange.html", **context)


def exchange_body(request: Request) -> Response:
    viewer = _viewer(request)
    context = _body_context(viewer, int(request.path_params["exchange_id"]))
    if context is None:
        return HTMLResponse("no such exchange", 404)
    return viewer.page(request, "exchange_body.html", **context)


def exchange_file(request: Request) -> Response:
    """One body of an exchange in full, as a download (never rendered as a page)."""
    viewer = _viewer(request)
    ex = viewer.reads.reader.exchange(int(request.path_params["exchange_id"]))
    key = request.path_params["key"]
    if ex is None or key not in ("request_json", "request_raw", "response_json", "response_raw") or ex.get(key) is None:
        return HTMLResponse("nothing here", 404)
    value = ex[key]
    body = value.encode() if isinstance(value, str) else json.dumps(value, ensure_ascii=False).encode()
    kind = "application/json" if key.endswith("json") else "text/plain; charset=utf-8"
    name = f"exchange-{ex['id']}-{key.replace('_', '.')}"
    return Response(body, media_type=kind, headers={"content-disposition": f'attachment; filename="{name}"'})


def mcp(request: Request) -> Response:
    viewer = _viewer(request)
    server = request.query_params.get("server") or None
    limit = int_of(request.query_params.get("limit"), 100, 1, 2000)
    servers = viewer.reads.reader.mcp_servers()
    calls = viewer.reads.reader.mcp_calls(server=server, limit=limit)
    return viewer.page(request, "mcp.html", servers=servers, calls=calls, server=server, limit=limit)


WINDOWS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}


def overview(request: Request) -> Response:
    viewer = _viewer(request)
    window = request.query_params.get("window") or "30d"
    days = WINDOWS.get(window, 30)
    data = viewer.reads.reader.overview(time.time() - days * 86400)
    labels = [d["day"] for d in data["days"]]
    lat = data["latency"]
    figures = [
        (
            "Exchanges and episodes per day",
            charts.bars(
                "exchanges and episodes per day",
                labels,
                {
                    "exchanges": [d["exchanges"] for d in data["days"]],
                    "episodes": [d["episodes"] for d in data["days"]],
                },
            ),
        ),
        (
            "Tokens per model",
            charts.hbars(
                "tokens per model",
                [(m["model"], (m["prompt_tokens"], m["completion_tokens"])) for m in data["models"]],
                ["prompt", "completion"],
            ),
        ),
        (
            "Latency percentiles (successful exchanges)",
            charts.lines(
                "latency percentiles per day",
                [d["day"] for d in lat],
                {
                    "p50": [d["p50"] for d in lat],
                    "p90": [d["p90"] for d in lat],
                    "p99": [d["p99"] for d in lat],
                    "TTFB p50": [d["ttfb_p50"] for d in lat],
                },
                " ms",
            ),
        ),
        (
            "Error rate",
            charts.bars(
                "error rate per day",
                labels,
                {"failed": [100 * d["failed"] / d["exchanges"] if d["exchanges"] else 0 for d in data["days"]]},
                "%",
            ),
        ),
        (
            "Tool calls per tool",
            charts.hbars(
                "tool calls per tool",
                [(t["tool"], (t["via_mcp"], t["calls"] - t["via_mcp"])) for t in data["tools"]],
                ["through MCP", "not seen on MCP"],
            ),
        ),
    ]
    return viewer.page(
        request, "overview.html", figures=figures, totals=data["totals"], window=window, windows=list(WINDOWS)
    )


routes = [
    Route("/overview", overview),
    Route("/exchanges", exchanges),
    Route("/exchanges/{exchange_id:int}", exchange),
    Route("/exchanges/{exchange_id:int}/body", exchange_body),
    Route("/exchanges/{exchange_id:int}/file/{key}", exchange_file),
    Route("/mcp", mcp),
]
