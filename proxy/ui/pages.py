"""The pages that only read: episodes (with live rows), one episode and its lazy pieces, its raw exchanges."""

from __future__ import annotations

from typing import Any, NamedTuple

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from proxy.ui import conversation
from proxy.ui.app import Viewer, not_found
from proxy.ui.guard import COOKIE
from proxy.ui.params import BadParam, cursor_of, filters_of, int_of, query
from recorder import Curation, Episode
from recorder.episodes.curation import describe

PAGE = 50
CHUNK = 100  # messages rendered per piece of a long episode; the next piece loads as it scrolls into view


def _viewer(request: Request) -> Viewer:
    return request.app.state.viewer  # type: ignore[no-any-return]


def home(request: Request) -> Response:
    return RedirectResponse("/ui/episodes", 303)


async def login(request: Request) -> Response:
    """Asks for `[ui] token` when one is set; on POST the guard has already checked Origin and the page token."""
    viewer = _viewer(request)
    guard = viewer.guard
    if guard is None or not guard.login_token:
        return RedirectResponse("/ui/episodes", 303)
    if request.method == "POST":
        form = await request.form()
        if guard.check_login(str(form.get("login_token") or "")):
            response = RedirectResponse("/ui/episodes", 303)
            response.set_cookie(COOKIE, guard.cookie_value, httponly=True, samesite="strict", path="/ui")
            return response
        return viewer.page(request, "login.html", status=403, failed=True)
    return viewer.page(request, "login.html", failed=False)


def _episode_rows(request: Request) -> dict[str, Any]:
    viewer = _viewer(request)
    filters, raw = filters_of(request.query_params)
    limit = int_of(request.query_params.get("limit"), PAGE, 1, 500)
    before = cursor_of(request.query_params.get("before"))
    rows = viewer.reads.reader.episodes(filters, limit=limit, before=before)
    older = query(raw, before=f"{rows[-1]['started_at']!r}:{rows[-1]['id']}") if len(rows) == limit else None
    return {
        "rows": rows,
        "raw": raw,
        "older": older,
        "first_page": before is None,
        "version": viewer.reads.version(),
        "query": query(raw),
    }


def episodes(request: Request) -> Response:
    viewer = _viewer(request)
    try:
        context = _episode_rows(request)
    except BadParam as exc:
        return viewer.page(
            request,
            "episodes.html",
            status=400,
            error=str(exc),
            rows=[],
            raw={},
            older=None,
            first_page=True,
            version="",
            query="",
        )
    return viewer.page(request, "episodes.html", error=None, **context)


def episode_rows(request: Request) -> Response:
    """The first page's rows again, for live updates: 204 (htmx leaves the table alone) when nothing changed."""
    viewer = _viewer(request)
    if request.query_params.get("v") == viewer.reads.version():
        return Response(status_code=204)
    try:
        context = _episode_rows(request)
    except BadParam:
        return Response(status_code=204)
    return viewer.page(request, "episode_rows.html", **context)


class Shown(NamedTuple):
    """One episode as every episode view needs it."""

    episode: Episode
    state: Curation
    linked: dict[str, Any]
    summary: dict[str, Any] | None


def _shown(request: Request) -> Shown | None:
    viewer = _viewer(request)
    episode_id = int(request.path_params["episode_id"])
    episode = viewer.reads.episode(episode_id)
    if episode is None:
        return None
    reader = viewer.reads.reader
    return Shown(
        episode, reader.curation(episode_id), reader.links(episode.exchange_ids), reader.episode_summary(episode_id)
    )


def episode(request: Request) -> Response:
    viewer = _viewer(request)
    shown = _shown(request)
    if shown is None:
        return not_found(viewer, request, f"There is no episode {request.path_params['episode_id']}.")
    reader = viewer.reads.reader
    end = None if request.query_params.get("all") else CHUNK
    return viewer.page(
        request,
        "episode.html",
        tab="conversation",
        history=reader.curation_history(shown.episode.id),
        describe=describe,
        notice=request.query_params.get("notice"),
        **_chunk(viewer, shown, 0, end),
        **shown._asdict(),
    )


def _chunk(viewer: Viewer, shown: Shown, start: int, end: int | None) -> dict[str, Any]:
    """Turns start..end, and where the next chunk starts (None at the end)."""
    ep = shown.episode
    stats = viewer.reads.reader.turn_stats(ep.id)
    turns = conversation.turns(ep, shown.state, shown.linked, stats, f"/ui/episodes/{ep.id}", start, end)
    following = end if end is not None and end < len(ep.messages) else None
    return {"turns": turns, "following": following, "total": len(ep.messages)}


def episode_turns(request: Request) -> Response:
    """The next chunk of a long episode's turns, loaded as the reader scrolls to it."""
    viewer = _viewer(request)
    shown = _shown(request)
    if shown is None:
        return HTMLResponse("episode not found", 404)
    start = int_of(request.query_params.get("from"), 0, 0, 10**9)
    return viewer.page(
        request, "turns_chunk.html", episode=shown.episode, **_chunk(viewer, shown, start, start + CHUNK)
    )


def episode_raw(request: Request) -> Response:
    viewer = _viewer(request)
    shown = _shown(request)
    if shown is None:
        return not_found(viewer, request, f"There is no episode {request.path_params['episode_id']}.")
    exchanges = viewer.reads.reader.exchange_rows(shown.episode.exchange_ids)
    return viewer.page(request, "episode_raw.html", tab="raw", exchanges=exchanges, **shown._asdict())


def part(request: Request) -> Response:
    """The full text behind one fold, fetched when the fold opens."""
    viewer = _viewer(request)
    shown = _shown(request)
    if shown is None:
        return HTMLResponse("episode not found", 404)
    arg = request.path_params.get("arg")
    index, what = int(request.path_params["index"]), str(request.path_params["what"])
    text = conversation.full_text(
        shown.episode, shown.state, shown.linked, index, what, int(arg) if arg is not None else None
    )
    if text is None:
        return HTMLResponse("nothing here", 404)
    return viewer.page(request, "text.html", text=text)


def edit_form(request: Request) -> Response:
    viewer = _viewer(request)
    shown = _shown(request)
    index = int(request.path_params["index"])
    if shown is None or not 0 <= index < len(shown.episode.messages):
        return HTMLResponse("no such turn", 404)
    message = shown.state.edited(index, shown.episode.messages[index])
    calls = [
        (i, (c.get("function") or {}).get("name"), conversation.pretty_json((c.get("function") or {}).get("arguments")))
        for i, c in enumerate(message.get("tool_calls") or [])
    ]
    content = conversation.text_of(message.get("content"))
    return viewer.page(request, "edit_form.html", episode=shown.episode, index=index, content=content, calls=calls)


routes = [
    Route("/episodes", episodes),
    Route("/episodes/rows", episode_rows),
    Route("/episodes/{episode_id:int}", episode),
    Route("/episodes/{episode_id:int}/raw", episode_raw),
    Route("/episodes/{episode_id:int}/turns", episode_turns),
    Route("/episodes/{episode_id:int}/part/{index:int}/{what}", part),
    Route("/episodes/{episode_id:int}/part/{index:int}/{what}/{arg:int}", part),
    Route("/episodes/{episode_id:int}/edit/{index:int}", edit_form),
]
