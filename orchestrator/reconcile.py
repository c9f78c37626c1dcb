"""Finds pipeline work that a crash left half-done and enqueues it again.

A stage is stuck when the database says queued/running but RQ no longer has a live job for it
(the job is gone, failed without our handler running, its worker died, or it finished without its
result reaching the database). A stage is stranded
when it is pending although every stage before it finished (a crash between the two commits).
Publications to external channels that a dead worker left half-done are re-enqueued as well; their
jobs resume from the remote state they stored.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.worker import Worker

from . import core
from .db import db
from .models import StageRun, StageStatus
from .pipeline import enqueue_next

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
    if status == JobStatus.STARTED and job.worker_name:
        return Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name,
                                  connection=conn) is not None
    return True


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
    from .publishing.service import reconcile_publications

    return {"requeued": requeued, "publications_requeued": reconcile_publications()}
