"""Finds pipeline work that a crash left half-done and enqueues it again.

A stage is stuck when the database says queued/running but RQ no longer has a live job for it
(the job is gone, failed without our handler running, its worker stopped sending heartbeats, or it
finished without its result reaching the database). Its job is then taken out of RQ's started
registry, so RQ's own clean-up never retries it beside the new one. A stage is stranded
when it is pending although every stage before it finished (a crash between the two commits).
Publications to external channels that a dead worker left half-done are re-enqueued as well; their
jobs resume from the remote state they stored.
"""
from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta

from flask import Flask
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler

from . import core
from .db import db
from .models import StageRun, StageStatus
from .pipeline import enqueue_next
from .publishing.service import reconcile_publications
from .workers import worker_is_alive

log = logging.getLogger(__name__)

# A finished job whose stage is still queued/running never committed its result (a stage body
# commits before it returns): it will not run again by itself, so it counts as dead too.
DEAD_JOB_STATES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}

ENQUEUE_GRACE_S = 10


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _job_is_alive(job_id: str | None) -> bool:
    if not job_id:
        return False
    conn = core.redis_connection()
    try:
        job = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=True)
    if status in DEAD_JOB_STATES:
        return False
    if status == JobStatus.STARTED and job.worker_name and not worker_is_alive(job.worker_name, conn):
        _abandon(job)
        return False
    return True


def _abandon(job: Job) -> None:
    """Move a job whose worker died from the started to the failed registry, without a retry."""
    conn = core.redis_connection()
    with conn.pipeline() as pipeline:
        StartedJobRegistry(job.origin, connection=conn).remove_executions(job, pipeline=pipeline)
        job.set_status(JobStatus.FAILED, pipeline=pipeline)
        FailedJobRegistry(job.origin, connection=conn).add(
            job, ttl=job.failure_ttl, exc_string=f"worker {job.worker_name} stopped sending heartbeats",
            pipeline=pipeline)
        pipeline.execute()
    log.warning("job %s: its worker %s stopped sending heartbeats", job.id, job.worker_name)


def reconcile() -> dict:
    requeued: list[int] = []
    active = (StageStatus.QUEUED.value, StageStatus.RUNNING.value)
    stuck = db.session.execute(db.select(StageRun).where(StageRun.status.in_(active))).scalars().all()
    # A row claimed this instant may not have its job in Redis yet (claim, then enqueue).
    grace = datetime.now(UTC) - timedelta(seconds=ENQUEUE_GRACE_S)
    for run in stuck:
        if run.status == StageStatus.QUEUED.value and run.queued_at and _aware(run.queued_at) > grace:
            continue
        if not _job_is_alive(run.rq_job_id):
            # The job may have finished and committed between our query and its status check.
            db.session.refresh(run)
            if run.status not in active:
                continue
            run.status = StageStatus.PENDING.value
            db.session.commit()
            if enqueue_next(run.recording_id) is not None:
                requeued.append(run.id)
    pending = db.session.execute(
        db.select(StageRun.recording_id).where(StageRun.status == StageStatus.PENDING.value).distinct()
    ).scalars().all()
    for recording_id in pending:
        run = enqueue_next(recording_id)
        if run is not None:
            requeued.append(run.id)

    return {"requeued": requeued, "publications_requeued": reconcile_publications()}


RETRY_POLL_S = 1  # whole seconds: RQ derives its lock TTL from it
REDIS_BACKOFF_MAX_S = 5.0


def run_scheduler(app: Flask, interval_s: float = 5.0, once: bool = False) -> None:
    """`diemcau scheduler`: every second, enqueue the RQ retries that are due (RQ's scheduler, run
    here instead of in a worker's child process, which dies with a Redis outage and is not restarted
    for minutes); every `interval_s`, reconcile. A Redis or database outage is waited out with a
    capped backoff, never ended on."""
    with app.app_context():
        settings = core.settings()
        retries = RQScheduler(list(settings.queues), connection=core.redis_connection(), interval=RETRY_POLL_S,
                              # One stable name: a restarted scheduler refreshes its own locks at once.
                              name=f"diemcau-scheduler-{socket.gethostname()}")
    backoff = 0.5
    next_reconcile = 0.0
    while True:
        with app.app_context():
            try:
                retries.acquire_locks()
                retries.enqueue_scheduled_jobs()
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + interval_s
                    outcome = reconcile()
                    if outcome["requeued"] or outcome["publications_requeued"]:
                        log.info("reconciler re-enqueued stages %s and publications %s", outcome["requeued"],
                                 outcome["publications_requeued"])
                backoff = 0.5
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("Redis unreachable (%s); retrying in %.1f s", exc, backoff)
                next_reconcile = 0.0  # reconcile as soon as it is back
                time.sleep(backoff)
                backoff = min(backoff * 2, REDIS_BACKOFF_MAX_S)
                continue
            except Exception:  # a database blip: keep the scheduler alive
                log.exception("scheduler pass failed")
            finally:
                db.session.remove()
        if once:
            return
        time.sleep(RETRY_POLL_S)
