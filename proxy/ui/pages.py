"""The pages that only read: episodes (with live rows), one episode and its lazy pieces, its raw exchanges."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from proxy.ui import conversation
from proxy.ui.app import Viewer, not_found
from proxy.ui.guard import COOKIE
from proxy.ui.params import BadParam, cursor_of, filters_of, int_of, query

PAGE = 50


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


def _episode_rows(request: Request) -> dict[str, object]:
    viewer = _viewer(request)
    filters, raw = filters_of(request.query_params)
    limit = int_of(request.query_params.get("limit"), PAGE, 1, 500)
    before = cursor_of(request.query_params.get("before"))
    rows = viewer.reads.episodes(filters, limit, before)
    older = query(raw, before=f"{rows[-1]['started_at']!r}:{rows[-1]['id']}") if len(rows) == limit else None
    return {"rows": rows, "raw": raw, "older": older, "first_page": before is None, "version": viewer.reads.refresh(), "query": query(raw)}


def episodes(request: Request) -> Response:
    viewer = _viewer(request)
    try:
        context = _episode_rows(request)
    except BadParam as exc:
        return viewer.page(request, "episodes.html", status=400, error=str(exc), rows=[], raw={}, older=None, first_page=True, version="", query="")
    return viewer.page(request, "episodes.html", error=None, **context)


def episode_rows(request: Request) -> Response:
    """The first page's rows again, for live updates: 204 (htmx leaves the table alone) when nothing changed."""
    viewer = _viewer(request)
    if request.query_params.get("v") == viewer.reads.refresh():
        return Response(status_code=204)
    try:
        context = _episode_rows(request)
    except BadParam:
        return Response(status_code=204)
    return viewer.page(request, "episode_rows.html", **context)


def _episode_context(request: Request) -> dict[str, object] | None:
    viewer = _viewer(request)
    episode_id = int(request.path_params["episode_id"])
    episode = viewer.reads.episode(episode_id)
    if episode is None:
        return None
    reads = viewer.reads
    state = reads.curation(episode_id)
    linked = reads.links(episode.exchange_ids)
    return {"episode": episode, "state": state, "linked": linked, "summary": reads.summary(episode_id), "reads": reads}


def episode(request: Request) -> Response:
    viewer = _viewer(request)
    context = _episode_context(request)
    if context is None:
        return not_found(viewer, request, f"There is no episode {request.path_params['episode_id']}.")
    ep, state = context["episode"], context["state"]
    base = f"/ui/episodes/{ep.id}"  # type: ignore[attr-defined]
    turns = conversation.turns(ep, state, context["linked"], viewer.reads.turn_stats(ep.id), base)  # type: ignore[arg-type, attr-defined]
    history = viewer.reads.history(ep.id)  # type: ignore[attr-defined]
    return viewer.page(
        request, "episode.html", tab="conversation", turns=turns, history=history, describe=_describe, notice=request.query_params.get("notice"),
        **{k: v for k, v in context.items() if k != "reads"},
    )


def _describe(step: dict[str, object]) -> str:
    from recorder.episodes.curation import describe

    return describe(step)


def episode_raw(request: Request) -> Response:
    viewer = _viewer(request)
    context = _episode_context(request)
    if context is None:
        return not_found(viewer, request, f"There is no episode {request.path_params['episode_id']}.")
    ep = context["episode"]
    exchanges = viewer.reads.exchange_rows(ep.exchange_ids)  # type: ignore[attr-defined]
    return viewer.page(request, "episode_raw.html", tab="raw", exchanges=exchanges, **{k: v for k, v in context.items() if k != "reads"})


def part(request: Request) -> Response:
    """The full text behind one fold, fetched when the fold opens."""
    viewer = _viewer(request)
    context = _episode_context(request)
    if context is None:
        return HTMLResponse("episode not found", 404)
    arg = request.path_params.get("arg")
    text = conversation.full_text(
        context["episode"], context["state"], context["linked"], int(request.path_params["index"]), request.path_params["what"],  # type: ignore[arg-type]
        int(arg) if arg is not None else None,
    )
    if text is None:
        return HTMLResponse("nothing here", 404)
    return viewer.page(request, "text.html", text=text)


def edit_form(request: Request) -> Response:
    viewer = _viewer(request)
    context = _episode_context(request)
    index = int(request.path_params["index"])
    if context is None or not 0 <= index < len(context["episode"].messages):  # type: ignore[attr-defined]
        return HTMLResponse("no such turn", 404)
    message = context["state"].edited(index, context["episode"].messages[index])  # type: ignore[attr-defined]
    calls = [(i, (c.get("function") or {}).get("name"), conversation.pretty_json((c.get("function") or {}).get("arguments")))
             for i, c in enumerate(message.get("tool_calls") or [])]
    return viewer.page(request, "edit_form.html", episode=context["episode"], index=index,
                       content=conversation.text_of(message.get("content")), calls=calls)


routes = [
    Route("/episodes", episodes),
    Route("/episodes/rows", episode_rows),
    Route("/episodes/{episode_id:int}", episode),
    Route("/episodes/{episode_id:int}/raw", episode_raw),
    Route("/episodes/{episode_id:int}/part/{index:int}/{what}", part),
    Route("/episodes/{episode_id:int}/part/{index:int}/{what}/{arg:int}", part),
    Route("/episodes/{episode_id:int}/edit/{index:int}", edit_form),
]
