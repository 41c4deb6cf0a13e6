"""The export page: `export` or `push` with the episode list's filters, progress, and a link to the result."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from proxy.ui.app import Viewer
from proxy.ui.params import BadParam, filters_of, query

FORMATS = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": "", "dpo": ".jsonl"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def _viewer(request: Request) -> Viewer:
    return request.app.state.viewer  # type: ignore[no-any-return]


def export_page(request: Request, error: str = "", status: int = 200, form: dict[str, str] | None = None) -> Response:
    viewer = _viewer(request)
    try:
        _, raw = filters_of(form or request.query_params)
    except BadParam as exc:
        raw, error = {}, str(exc)
    values = {
        "format": "jsonl",
        "unroll": "",
        "test_split": "0",
        "strip_system": "",
        "name": "",
        "repo_id": "",
        "private": "on",
        **(form or {}),
    }
    return viewer.page(
        request,
        "export.html",
        status=status,
        raw=raw,
        values=values,
        error=error,
        jobs=viewer.jobs.recent(),
        export_dir=str(viewer.export_dir),
        formats=list(FORMATS),
        query=query(raw),
    )


def _options(form: Any) -> Any:
    from finetune.dataset.export import ExportOptions

    filters, _ = filters_of(form)
    unroll = str(form.get("unroll") or "") or None
    if unroll not in (None, "assistant", "user-turns"):
        raise BadParam("unroll is assistant, user-turns or nothing")
    try:
        split = float(form.get("test_split") or 0)
    except ValueError:
        raise BadParam("the test split is a share between 0 and 0.9, e.g. 0.1") from None
    if not 0 <= split <= 0.9:
        raise BadParam("the test split is a share between 0 and 0.9, e.g. 0.1")
    return ExportOptions(filters=filters, unroll=unroll, strip_system=bool(form.get("strip_system")), test_split=split)


async def start(request: Request) -> Response:
    viewer = _viewer(request)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "token"}
    kind = "push" if form.get("kind") == "push" else "export"
    fmt = str(form.get("format") or "jsonl")
    try:
        if fmt not in FORMATS:
            raise BadParam(f"format is one of {', '.join(FORMATS)}")
        options = _options(form)
        if fmt == "dpo" and options.unroll:
            raise BadParam("the dpo format writes one pair per edited turn; leave unroll empty")
        if kind == "push":
            repo_id = str(form.get("repo_id") or "").strip()
            if not REPO.fullmatch(repo_id):
                raise BadParam("the Hub repository is user/name (or org/name)")
            out = viewer.export_dir / f"push-{repo_id.replace('/', '--')}-{time.strftime('%Y%m%d-%H%M%S')}"
            spec = {"fmt": "parquet", "repo_id": repo_id, "private": bool(form.get("private"))}
        else:
            name = str(form.get("name") or "").strip() or f"traces-{time.strftime('%Y%m%d-%H%M%S')}{FORMATS[fmt]}"
            if not NAME.fullmatch(name):
                raise BadParam(
                    "the file name uses letters, digits, '.', '_' and '-' (it is written into the export folder)"
                )
            out = viewer.export_dir / name
            if out.exists():
                raise BadParam(f"{out} already exists; choose another name")
            spec = {"fmt": fmt}
    except BadParam as exc:
        return export_page(request, str(exc), 400, values)
    _, raw = filters_of(form)
    job = viewer.jobs.start(kind=kind, out=out, options=options, query=query(raw), **spec)
    return RedirectResponse(f"/ui/export/jobs/{job.id}", 303)


def job_page(request: Request) -> Response:
    viewer = _viewer(request)
    job = viewer.jobs.get(int(request.path_params["job_id"]))
    if job is None:
        return viewer.page(
            request,
            "message.html",
            status=404,
            title="No such job",
            message="This export job is not known (the viewer was restarted?).",
        )
    return viewer.page(request, "job.html", job=job)


def job_progress(request: Request) -> Response:
    viewer = _viewer(request)
    job = viewer.jobs.get(int(request.path_params["job_id"]))
    if job is None:
        return HTMLResponse("no such job", 404)
    return viewer.page(request, "job_progress.html", job=job)


def job_file(request: Request) -> Response:
    viewer = _viewer(request)
    job = viewer.jobs.get(int(request.path_params["job_id"]))
    n = int(request.path_params["n"])
    if job is None or not 0 <= n < len(job.files):
        return HTMLResponse("no such file", 404)
    path = job.files[n]
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")


routes = [
    Route("/export", export_page),
    Route("/export", start, methods=["POST"]),
    Route("/export/jobs/{job_id:int}", job_page),
    Route("/export/jobs/{job_id:int}/progress", job_progress),
    Route("/export/jobs/{job_id:int}/file/{n:int}", job_file),
]
