"""Curation from the page: each POST appends one step to the same log the CLI writes, then returns to the episode.

The guard has already checked Origin and token. Forms work without JavaScript; a step that
cannot apply (no such turn, arguments that are not JSON) comes back as a notice on the page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from proxy.ui.app import Viewer
from recorder.episodes import curation


def _back(episode_id: int, notice: str = "", anchor: str = "") -> Response:
    suffix = f"?notice={quote(notice)}" if notice else ""
    return RedirectResponse(f"/ui/episodes/{episode_id}{suffix}{'#' + anchor if anchor else ''}", 303)


def _tags(form: Any) -> list[str]:
    return [t for t in str(form.get("tags") or "").replace(",", " ").split() if t]


def _selected_range(form: Any) -> tuple[int, int]:
    picked = sorted({int(v) for v in form.getlist("select") if str(v).isdigit()})
    if not picked:
        raise ValueError("select the turns to drop first (the boxes next to each message)")
    return picked[0], picked[-1]


def _edits(viewer: Viewer, episode_id: int, form: Any) -> list[dict[str, Any]]:
    """One edit step per changed field: the content, each tool call's arguments."""
    episode = viewer.reads.episode(episode_id)
    if episode is None:
        raise LookupError(f"no episode {episode_id}")
    index = int(str(form.get("index") or "-1"))
    state = viewer.reads.reader.curation(episode_id)
    if not 0 <= index < len(episode.messages):
        raise ValueError(f"message {index} is not in this episode")
    current = state.edited(index, episode.messages[index])
    from proxy.ui.conversation import pretty_json, text_of

    steps = []
    if "content" in form and str(form["content"]).replace("\r\n", "\n") != text_of(current.get("content")):
        steps.append(curation.check_edit(episode.messages, index, content=str(form["content"]).replace("\r\n", "\n")))
    for i, call in enumerate(current.get("tool_calls") or []):
        given = form.get(f"arguments_{i}")
        if given is not None and str(given).replace("\r\n", "\n") != pretty_json(
            (call.get("function") or {}).get("arguments")
        ):
            steps.append(
                curation.check_edit(episode.messages, index, tool_call=i, arguments=str(given).replace("\r\n", "\n"))
            )
    return steps


async def act(request: Request) -> Response:
    viewer: Viewer = request.app.state.viewer
    episode_id = int(request.path_params["episode_id"])
    action = request.path_params["action"]
    form = await request.form()
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(_apply, viewer, episode_id, action, form)
    except LookupError as exc:
        return HTMLResponse(str(exc), 404)
    except ValueError as exc:
        return _back(episode_id, str(exc))


def _apply(viewer: Viewer, episode_id: int, action: str, form: Any) -> Response:
    reads = viewer.reads.reader
    anchor = ""
    if action in ("tag", "untag"):
        if not _tags(form):
            raise ValueError("type a tag first")
        reads.curate(episode_id, action, tags=_tags(form))
    elif action in ("exclude", "include", "strip_system", "keep_system"):
        reads.curate(episode_id, action)
    elif action == "drop_turns":
        start, end = _selected_range(form)
        reads.curate(episode_id, "drop_turns", start=start, end=end)
        anchor = f"m{start}"
    elif action == "rate":
        reads.curate(episode_id, "rate", value=curation.parse_rating(str(form.get("value") or "")))
    elif action == "edit":
        steps = _edits(viewer, episode_id, form)
        if not steps:
            raise ValueError("nothing changed in that edit")
        for step in steps:
            reads.curate(episode_id, "edit", **step)
        anchor = f"m{steps[0]['index']}"
    elif action == "undo":
        if reads.undo(episode_id) is None:
            raise ValueError("nothing to undo")
    else:
        return HTMLResponse(f"unknown action {action!r}", 404)
    return _back(episode_id, anchor=anchor)


routes = [Route("/episodes/{episode_id:int}/{action}", act, methods=["POST"])]
