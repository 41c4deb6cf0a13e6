"""Export and push jobs started from the viewer: a thread each, with progress the page polls.

The work is the same code `tracemill export` and `tracemill push` run (finetune.dataset.export,
finetune.hub), reached lazily as the CLI does.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxy.ui.app import Viewer

KEEP = 50  # finished jobs remembered for their pages


@dataclass
class Job:
    id: int
    kind: str  # export or push
    fmt: str
    out: Path
    options: Any
    repo_id: str = ""
    private: bool = True
    query: str = ""
    state: str = "running"  # running, done, failed
    phase: str = "counting episodes"
    done: int = 0
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    url: str = ""
    error: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def files(self) -> list[Path]:
        """The single files this export wrote (a folder export has none to download)."""
        if self.kind != "export" or self.state != "done":
            return []
        candidates = [self.out, self.out.with_name(self.out.stem + ".test" + self.out.suffix)]
        return [p for p in candidates if p.is_file()]

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.state == "done" else 0)


class Jobs:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def recent(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: -j.id)[:10]

    def start(self, **spec: Any) -> Job:
        with self._lock:
            job = Job(id=next(self._ids), **spec)
            self._jobs[job.id] = job
            for old in sorted(self._jobs)[:-KEEP]:
                del self._jobs[old]
        threading.Thread(target=self._run, args=(job,), name=f"tracemill-{job.kind}-{job.id}", daemon=True).start()
        return job

    def _run(self, job: Job) -> None:
        try:
            if job.kind == "push":
                self._push(job)
            else:
                self._export(job)
            job.state = "done"
        except Exception as exc:  # shown on the job's page, in one line
            from finetune.hub import HubError

            job.error = (
                str(exc)
                if isinstance(exc, HubError | ValueError | OSError)
                else f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            )
            job.state = "failed"
        finally:
            job.finished = time.time()

    def _export(self, job: Job) -> None:
        from finetune.dataset.export import episode_total, write

        db = self.viewer.config.store.path
        job.total = episode_total(db, job.options)
        job.phase = "exporting episodes"
        job.out.parent.mkdir(parents=True, exist_ok=True)
        job.counts = write(db, job.out, job.fmt, job.options, progress=lambda n: setattr(job, "done", n))
        job.done = job.total or job.done

    def _push(self, job: Job) -> None:
        from finetune import hub

        hub.token()
        job.phase = "building the dataset"
        job.counts = hub.build(self.viewer.config.store.path, job.out, job.repo_id, job.options)
        job.phase = "uploading to the Hub"
        job.url = hub.push(job.out, job.repo_id, job.private)
