"""The processing pipeline: probe → transcode → transcribe → publish.

The database is the source of truth. Each stage is a StageRun row; a stage runs as an RQ job on the
queue of its resource, writes its outputs under deterministic storage keys, and records completion
(status, result, assets) in one transaction, then enqueues the next stage. Re-running a finished
stage changes nothing, so retries, the reconciler and operators can re-enqueue freely.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import get_current_job

from media import MediaError, probe
from media.safe_input import check_file_name
from transcribe import TranscribeError

from . import core
from .db import db
from .models import Channel, Event, EventStatus, Publication, Recording, StageRun, StageStatus, User, audit
from .naming import storage_safe_name
from .policy import visible_recordings_clause
from .runtime import (  # noqa: F401 (Progress, UserFacingError, StageOutcome and queue re-exported)
    Progress,
    StageOutcome,
    UserFacingError,
    enqueue,
    job,
    now,
    queue,
    stage_finished,
)
from .stages import STAGE_FUNCTIONS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageSpec:
    name: str
    queue: str
    timeout: Callable[[float], int]  # job_timeout from the media duration: RQ's 180 s default is far too short


STAGES: tuple[StageSpec, ...] = (
    StageSpec("probe", "media", lambda d: 300),
    StageSpec("transcode", "media", lambda d: int(max(900, 6 * d))),
    StageSpec("transcribe", "asr", lambda d: int(max(900, 3 * d))),
    StageSpec("publish", "publish", lambda d: 600),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}
RETRY_INTERVALS = (15, 60, 300)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- ingest -------------------------------------------------------------------------------------

def ingest_file(path: Path, *, original_filename: str, title: str | None = None, user: User | None = None,
                language: str = "vi") -> Recording:
    """Validate a media file with ffprobe and register it as a new event + recording.

    Raises MediaError (with a code the panel translates) for anything ffprobe cannot use, such as a
    playlist (whatever it is called: probe reads the content); nothing is stored then. The caller
    owns `path` and may delete it afterwards: the source is copied.
    """
    check_file_name(original_filename)  # a .m3u8 or .txt is refused by its name before ffprobe runs
    info = probe(path)  # raises MediaError
    if not info.has_video and not info.has_audio:
        raise MediaError("no_streams", "neither audio nor video")
    display_name = Path(original_filename).name or "video"
    event = Event(kind="upload", title=(title or Path(display_name).stem)[:300], language=language,
                  status=EventStatus.PROCESSING.value, created_by_id=user.id if user else None)
    recording = Recording(event=event, source_key="", original_filename=display_name,
                          size_bytes=path.stat().st_size, sha256=sha256_file(path),
                          duration_s=info.duration_s, probe=info.to_dict(),
                          created_by_id=user.id if user else None)
    db.session.add_all([event, recording])
    db.session.flush()  # ids for the storage key
    recording.source_key = f"recordings/{recording.id}/source/{storage_safe_name(display_name)}"
    core.storage().put_file(recording.source_key, path)
    for position, spec in enumerate(STAGES):
        run = StageRun(recording=recording, stage=spec.name, position=position)
        if spec.name == "probe":
            # The upload was just probed: record it instead of probing twice.
            run.status, run.percent, run.result = StageStatus.DONE.value, 100.0, info.to_dict()
            run.started_at = run.finished_at = now()
        db.session.add(run)
    audit(user, "recording.upload", recording, filename=display_name, size=recording.size_bytes)
    db.session.commit()
    return recording


# --- queueing -----------------------------------------------------------------------------------

def enqueue_next(recording_id: int) -> StageRun | None:
    """Enqueue the first pending stage of a recording; returns it, or None when nothing is pending.

    While Redis is unreachable the stage stays pending (see `waits_for_queue`) and the reconciler
    enqueues it once Redis is back."""
    recording = db.session.get(Recording, recording_id)
    for run in recording.stages:
        if run.status in (StageStatus.DONE.value, StageStatus.SKIPPED.value):
            continue
        if run.status == StageStatus.PENDING.value:
            _enqueue(run, recording)
            return run
        return None  # queued, running or failed: not ours to push
    _finish_event(recording)
    return None


def _enqueue(run: StageRun, recording: Recording) -> None:
    # Claim the row first, so two processes calling enqueue_next never enqueue the same stage twice.
    # The job's id is chosen here and stored with the claim: the row never points at an earlier
    # (finished) job, which the reconciler would take for a lost one.
    job_id = f"stage-{run.stage}-{run.id}-{uuid.uuid4().hex[:12]}"
    claimed = db.session.execute(
        db.update(StageRun).where(StageRun.id == run.id, StageRun.status == StageStatus.PENDING.value)
        .values(status=StageStatus.QUEUED.value, queued_at=now(), error_code=None, error_detail=None,
                rq_job_id=job_id)
    ).rowcount
    db.session.commit()
    if not claimed:
        return
    spec = STAGE_BY_NAME[run.stage]
    try:
        enqueue(
            run_stage_job, recording.id, run.stage, queue_name=spec.queue, job_id=job_id,
            timeout=spec.timeout(recording.duration_s or 0.0),
            description=f"{run.stage} recording {recording.id}",
            meta={"stage": run.stage, "percent": 0.0, "recording_id": recording.id},
        )
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # Hand the claim back: the reconciler enqueues pending stages once Redis answers again.
        db.session.execute(
            db.update(StageRun).where(StageRun.id == run.id, StageRun.rq_job_id == job_id,
                                      StageRun.status == StageStatus.QUEUED.value)
            .values(status=StageStatus.PENDING.value, queued_at=None, rq_job_id=None))
        db.session.commit()
        log.warning("Redis unreachable: %s of recording %s waits for the reconciler (%s)", run.stage,
                    recording.id, exc)
    db.session.refresh(run)


def waits_for_queue(recording: Recording) -> bool:
    """True when the recording's next stage could not be handed to the job queue (Redis was away)."""
    statuses = db.session.execute(db.select(StageRun.status).where(StageRun.recording_id == recording.id)
                                  .order_by(StageRun.position)).scalars()
    for status in statuses:
        if status not in (StageStatus.DONE.value, StageStatus.SKIPPED.value):
            return status == StageStatus.PENDING.value
    return False


@stage_finished.connect
def _stage_finished_elsewhere(recording_id: int, **_: Any) -> None:
    enqueue_next(recording_id)


def retry_stage(run: StageRun, user: User | None) -> None:
    """Operator retry of a failed stage (from the panel)."""
    if run.status != StageStatus.FAILED.value:
        return
    run.status, run.percent = StageStatus.PENDING.value, 0.0
    run.recording.event.status = EventStatus.PROCESSING.value
    audit(user, "stage.retry", run, stage=run.stage)
    db.session.commit()
    enqueue_next(run.recording_id)


def _finish_event(recording: Recording) -> None:
    event = recording.event
    publish = recording.stage("publish")
    wanted = EventStatus.PUBLISHED.value if publish and publish.status == "done" else EventStatus.READY.value
    if event.status != wanted:
        event.status = wanted
        db.session.commit()


# --- running a stage ----------------------------------------------------------------------------

@job("media", timeout=STAGE_BY_NAME["transcode"].timeout, retry=RETRY_INTERVALS)
def run_stage_job(recording_id: int, stage: str) -> dict:
    """The RQ entry point of every stage; it runs on its stage's queue (STAGES), the timeout from the
    stage and the recording's duration."""
    result = run_stage(recording_id, stage)
    return {"stage": stage, "status": result.status, "app": current_app.name}


def run_stage(recording_id: int, stage: str, *, out_dir: Path | None = None, enqueue: bool = True) -> StageRun:
    """Run one stage to completion. Idempotent: a finished stage is left as it is.

    `out_dir` keeps the stage's local outputs there (the CLI); otherwise a work folder is used and removed.
    """
    run = db.session.execute(db.select(StageRun).filter_by(recording_id=recording_id, stage=stage)).scalar_one()
    recording = run.recording
    job = get_current_job()
    if job is not None and run.rq_job_id and job.id != run.rq_job_id:
        # A job the database no longer points at (the reconciler re-enqueued the stage after its
        # worker died, and RQ retries the old one): the stage runs once, under its current job.
        log.warning("stale job %s for %s of recording %s (current: %s): not run", job.id, stage, recording_id,
                    run.rq_job_id)
        return run
    if run.status not in (StageStatus.DONE.value, StageStatus.SKIPPED.value):
        run.status, run.started_at, run.percent = StageStatus.RUNNING.value, now(), 0.0
        run.attempts += 1
        db.session.commit()
        workdir = out_dir or (core.settings().work_dir / f"rec{recording_id}-{stage}")
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            outcome = STAGE_FUNCTIONS[stage](recording, workdir, Progress(run))
        except (MediaError, TranscribeError, UserFacingError) as exc:
            # The input is the problem: retrying cannot help. Say so on the stage and the event.
            db.session.rollback()
            _fail(run, exc.code, exc.detail or str(exc))
            return run
        except Exception as exc:
            db.session.rollback()
            job = get_current_job()
            if job is not None and job.retries_left:
                run.status, run.error_code = StageStatus.QUEUED.value, "retrying"
                run.error_detail = f"{type(exc).__name__}: {exc}"[:2000]
                db.session.commit()
            else:
                _fail(run, "internal", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if out_dir is None:
                shutil.rmtree(workdir, ignore_errors=True)
        outcome.apply(run)  # outputs, status and result in one transaction
    if enqueue:
        enqueue_next(recording_id)
    return run


def _fail(run: StageRun, code: str, detail: str) -> None:
    run.status, run.error_code, run.error_detail = StageStatus.FAILED.value, code, detail[:4000]
    run.finished_at = now()
    run.recording.event.status = EventStatus.FAILED.value
    db.session.commit()
    log.warning("stage %s of recording %s failed: %s %s", run.stage, run.recording_id, code, detail[:300])


def submit_file(path: Path, *, original_filename: str, title: str | None, user: User | None,
                language: str = "vi") -> Recording:
    """Ingest a file and start its pipeline (the panel's upload path)."""
    recording = ingest_file(path, original_filename=original_filename, title=title, user=user, language=language)
    enqueue_next(recording.id)
    return recording


def visible_recordings(user: User, limit: int = 100) -> list[Recording]:
    """Recordings a user may see in the panel (orchestrator.policy: all for staff, their own for speakers)."""
    query = (db.select(Recording).join(Event).where(visible_recordings_clause(user))
             .order_by(Recording.id.desc()).limit(limit))
    return list(db.session.execute(query).scalars())


def published_on_portal(limit: int = 50) -> list:
    """Published portal publications, newest first (the portal home)."""
    query = (db.select(Publication).join(Channel).where(Channel.kind == "portal", Publication.status == "published")
             .order_by(Publication.published_at.desc()).limit(limit))
    return list(db.session.execute(query).scalars())


def portal_publication(slug: str):
    """The published portal publication with this slug, or None (unpublished and confidential never show)."""
    pub = db.session.execute(db.select(Publication).join(Channel).where(
        Channel.kind == "portal", Publication.slug == slug)).scalar_one_or_none()
    if pub is None or pub.status != "published" or pub.recording.event.confidential:
        return None
    return pub


def count_view(publication) -> None:
    db.session.execute(db.update(Publication).where(Publication.id == publication.id)
                       .values(view_count=Publication.view_count + 1))
    db.session.commit()
