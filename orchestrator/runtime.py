"""What every feature module shares at run time, and nothing feature-specific: the clock, the user-facing
error, the job queues, job progress, the outcome of a pipeline stage, the signals one feature sends
another, and the registry of RQ entry points with the core-app context each job runs in.

Imports no feature module, so any feature may import it without closing an import cycle.

Every RQ entry point is declared once with `@job(queue, timeout=…, retry=…)`; enqueuing names the function
(`enqueue(run_product_job, product.id, …)`), never a dotted string. RQ workers import the entry point by
the dotted name recorded in the job, which is the decorated function's own module and name.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from blinker import Namespace
from flask import Flask, has_app_context
from rq import Queue, Retry, get_current_job
from rq.job import Job

from . import core
from .db import db
from .models import StageRun, StageStatus
from .models import utcnow as now  # the one clock: the tables' column defaults read it too

DAY_S = 24 * 3600


class UserFacingError(Exception):
    """An input problem with a stable code the web layer translates."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


def queue(name: str) -> Queue:
    return Queue(name, connection=core.redis_connection())


class Progress:
    """A job's progress into its database row (any model with `id` and `percent`: a StageRun, a
    MediaProduct; None for a job that has no row, such as the invitations sheet) and the RQ job meta,
    throttled so the database is not hammered."""

    def __init__(self, row=None, min_interval_s: float = 0.5):
        self.model, self.row_id = (type(row), row.id) if row is not None else (None, None)
        self.min_interval_s = min_interval_s
        self._last = 0.0

    def __call__(self, percent: float) -> None:
        t = time.monotonic()
        if t - self._last < self.min_interval_s and percent < 100:
            return
        self._last = t
        percent = max(0.0, min(100.0, float(percent)))
        if self.model is not None:
            db.session.execute(db.update(self.model).where(self.model.id == self.row_id).values(percent=percent))
            db.session.commit()
        job = get_current_job()
        if job is not None:
            job.meta.update(percent=percent)
            job.save_meta()


@dataclass
class StageOutcome:
    """What a stage produced; applied to the database in one transaction."""
    result: dict[str, Any]
    skipped: bool = False
    apply_extra: Callable[[], None] | None = None

    def apply(self, run: StageRun) -> None:
        if self.apply_extra:
            self.apply_extra()
        run.status = StageStatus.SKIPPED.value if self.skipped else StageStatus.DONE.value
        run.percent, run.finished_at, run.result = 100.0, now(), self.result
        run.error_code = run.error_detail = None
        db.session.commit()


# One feature telling another that something happened, without importing it.
signals = Namespace()
# A stage finished outside the job that ran it (the transcribe stage's merge job); sender: the recording id.
# The pipeline enqueues the next stage.
stage_finished = signals.signal("stage-finished")


# --- the core app of a worker ---------------------------------------------------------------------

@functools.cache
def core_app() -> Flask:
    """One core app per worker process (or forked work horse), created on first use."""
    return core.create_core_app()


def in_core_app(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run `fn` inside the core app context (the caller's, when it has one, as in tests and the CLI), and
    hand its database session back afterwards."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return _closing_session(fn, args, kwargs)
        with core_app().app_context():
            return _closing_session(fn, args, kwargs)
    return wrapper


def _closing_session(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    try:
        return fn(*args, **kwargs)
    finally:
        db.session.remove()


# --- the registry of RQ entry points ----------------------------------------------------------------

Timeout = int | Callable[[float], int]  # seconds, or seconds from the media duration the job works on


@dataclass(frozen=True)
class JobSpec:
    name: str                     # the dotted name RQ workers import
    queue: str
    timeout: Timeout              # RQ's 180 s default is far too short for media work
    retry: tuple[int, ...] = ()   # seconds before each retry; () for none
    result_ttl: int = DAY_S
    failure_ttl: int = 7 * DAY_S

    def job_timeout(self, duration_s: float) -> int:
        return self.timeout(duration_s) if callable(self.timeout) else self.timeout

    def rq_retry(self) -> Retry | None:
        return Retry(max=len(self.retry), interval=list(self.retry)) if self.retry else None


JOBS: dict[str, JobSpec] = {}


def job(queue: str, *, timeout: Timeout, retry: Sequence[int] = (), result_ttl: int = DAY_S,
        failure_ttl: int = 7 * DAY_S, app_context: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an RQ entry point. With `app_context` (the default) the body runs inside the core app
    context; a job that sets up its own (the panel's invitations sheet) says app_context=False."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        entry = in_core_app(fn) if app_context else fn
        spec = JobSpec(f"{fn.__module__}.{fn.__qualname__}", queue, timeout, tuple(retry), result_ttl, failure_ttl)
        if JOBS.get(spec.name, spec) != spec:
            raise ValueError(f"job {spec.name} declared twice")
        JOBS[spec.name] = spec
        entry.job_spec = spec
        return entry
    return register


def spec_of(fn: Callable[..., Any]) -> JobSpec:
    try:
        return fn.job_spec
    except AttributeError:
        raise TypeError(f"{fn!r} is not declared with @runtime.job") from None


def job_options(fn: Callable[..., Any], *, duration_s: float = 0.0, timeout: int | None = None,
                **extra: Any) -> dict[str, Any]:
    """The declared timeout, retry and TTLs of `fn`, with the call's own options (job_id, description,
    meta, depends_on…) added."""
    spec = spec_of(fn)
    return {"job_timeout": timeout if timeout is not None else spec.job_timeout(duration_s),
            "retry": spec.rq_retry(), "result_ttl": spec.result_ttl, "failure_ttl": spec.failure_ttl, **extra}


def enqueue(fn: Callable[..., Any], *args: Any, duration_s: float = 0.0, timeout: int | None = None,
            queue_name: str | None = None, at: datetime | None = None, **options: Any) -> Job:
    """Enqueue the declared job `fn` on its queue (or `queue_name`), now or `at` a time."""
    spec = spec_of(fn)
    q = queue(queue_name or spec.queue)
    kwargs = job_options(fn, duration_s=duration_s, timeout=timeout, **options)
    if at is not None:
        return q.enqueue_at(at, spec.name, *args, **kwargs)
    return q.enqueue(spec.name, *args, **kwargs)


def prepare_data(fn: Callable[..., Any], args: tuple, *, duration_s: float = 0.0, **options: Any):
    """One job of an `enqueue_many` batch, with the declared options of `fn`."""
    opts = job_options(fn, duration_s=duration_s, **options)
    return Queue.prepare_data(spec_of(fn).name, args, timeout=opts.pop("job_timeout"), **opts)
