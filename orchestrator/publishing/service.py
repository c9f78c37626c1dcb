"""One approval → one publish job per channel on the `publish` queue.

Each (recording, channel) has one Publication with an idempotency key. The job body reads it, takes a
short Redis lease so two jobs never drive the same publication at once, hands the adapter the state
persisted by earlier attempts, and records the outcome in one commit. A retried, re-run or duplicated
job therefore resumes or confirms: it never posts twice. Errors keep a code the panel translates
(quota, expired token, rejected file…) and the detail for technicians.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rq import get_current_job

from groundwork.config import options

from .. import core, runtime
from ..db import db
from ..models import Asset, Channel, Publication, Recording, User, audit
from ..runtime import UserFacingError, now
from ..secrets import CredentialsError, channel_credentials, decrypt, encrypt
from . import adapter_classes
from .base import Adapter, JobContext, MediaFile, PublishError
from .portal import portal_slug

log = logging.getLogger(__name__)

ACTIVE = ("queued", "scheduled", "uploading", "processing", "retrying", "unpublishing")
RETRY_INTERVALS = (30, 120, 600)
TOKEN_WARNING_DAYS = 7


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns: they are UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def idempotency_key(channel: Channel, recording: Recording) -> str:
    # The portal keeps the key the pipeline's publish stage has always used.
    if channel.kind == "portal":
        return f"portal:recording:{recording.id}"
    return f"{channel.kind}:{channel.id}:recording:{recording.id}"


# --- renditions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rendition:
    asset_id: int
    kind: str
    aspect: str          # "16:9" | "9:16"
    lufs: float | None   # integrated loudness target when the asset says so

    @property
    def label(self) -> str:
        loud = f", {self.lufs:g} LUFS" if self.lufs is not None else ""
        return f"{self.aspect}{loud} ({self.kind})"


def renditions(recording: Recording) -> list[Rendition]:
    """The publishable video files of a recording: the MP4 master, the 9:16 social cut and
    loudness-normalised variants when the media stages made them (whatever exists is offered)."""
    out = []
    for asset in recording.assets:
        meta = asset.meta or {}
        if asset.kind != "mp4" and asset.kind != "social_cut" and not asset.kind.startswith("mp4"):
            continue
        aspect = meta.get("aspect") or ("9:16" if asset.kind == "social_cut" else "16:9")
        lufs = meta.get("lufs", meta.get("loudness_lufs", meta.get("target_lufs")))
        out.append(Rendition(asset.id, asset.kind, str(aspect), float(lufs) if lufs is not None else None))
    return out


def default_rendition(recording: Recording, adapter: type[Adapter]) -> Rendition | None:
    options = renditions(recording)
    if not options:
        return None
    want_aspect = "9:16" if adapter.prefers_vertical else "16:9"
    want_lufs = -14.0 if adapter.prefers_loud else -23.0

    def score(r: Rendition) -> tuple:
        return (r.aspect == want_aspect, r.lufs == want_lufs, r.kind == "mp4")
    return max(options, key=score)


# --- credentials ----------------------------------------------------------------------------------

def build_adapter(channel: Channel) -> Adapter:
    cls = adapter_classes().get(channel.kind)
    if cls is None:
        raise PublishError("config", f"no adapter for {channel.kind}")
    try:
        credentials = channel_credentials(channel)
    except CredentialsError as exc:
        raise PublishError("config", str(exc)) from None
    channel_id = channel.id

    def save(updates: dict[str, Any], expires_at: datetime | None) -> None:
        # Refreshed tokens are stored at once (Zalo refresh tokens are single use), in their own commit.
        row = db.session.get(Channel, channel_id)
        stored = decrypt(row.credentials_encrypted)
        stored.update({k: v for k, v in updates.items() if v is not None})
        row.credentials_encrypted = encrypt(stored)
        if expires_at is not None:
            row.credentials_expire_at = expires_at
        db.session.commit()
    return cls(channel.settings, credentials, save_credentials=save)


def token_warnings(within_days: int = TOKEN_WARNING_DAYS) -> list[tuple[Channel, bool]]:
    """Enabled channels whose long-lived credential expires soon: (channel, already_expired)."""
    limit = now() + timedelta(days=within_days)
    rows = db.session.execute(db.select(Channel).where(Channel.enabled.is_(True),
                                                       Channel.credentials_expire_at.is_not(None))).scalars()
    return [(c, _aware(c.credentials_expire_at) <= now()) for c in rows if _aware(c.credentials_expire_at) <= limit]


def credentials_expired(channel: Channel) -> bool:
    expires = _aware(channel.credentials_expire_at)
    return expires is not None and expires <= now()


# --- approval, retry, unpublish -------------------------------------------------------------------

@dataclass
class Choice:
    channel_id: int
    title: str
    description: str = ""
    asset_id: int | None = None
    privacy: str = "public"
    scheduled_at: datetime | None = None
    allow_download: bool = False


def publication_for(recording: Recording, channel: Channel) -> Publication | None:
    return db.session.execute(db.select(Publication).filter_by(
        recording_id=recording.id, channel_id=channel.id)).scalar_one_or_none()


def approve(recording: Recording, choices: list[Choice], user: User | None) -> list[Publication]:
    """The editor's approval: one publication per chosen channel, each with its own job."""
    if recording.event.confidential:
        raise UserFacingError("confidential")
    pubs, to_enqueue = [], []
    for choice in choices:
        channel = db.session.get(Channel, choice.channel_id)
        if channel is None or not channel.enabled:
            raise UserFacingError("channel_disabled")
        pub = publication_for(recording, channel)
        if pub is None:
            pub = Publication(recording_id=recording.id, channel_id=channel.id,
                              idempotency_key=idempotency_key(channel, recording), remote_state={})
            db.session.add(pub)
        pubs.append(pub)
        options = dict(pub.options or {})
        options.update(asset_id=choice.asset_id, privacy=choice.privacy, allow_download=choice.allow_download)
        pub.options, pub.approved_by_id, pub.updated_at = options, user.id if user else None, now()
        if pub.status in ACTIVE or pub.status == "published":
            # Already on its way or there: approving again changes the details, never posts twice.
            continue
        pub.title, pub.description = choice.title.strip()[:300], choice.description
        pub.scheduled_at = _aware(choice.scheduled_at)
        pub.error = pub.error_code = None
        if channel.kind == "portal" and not pub.slug:
            pub.slug = portal_slug(pub.title or recording.event.title, recording.id)
        if credentials_expired(channel):
            pub.status, pub.error_code = "failed", "expired_token"
            pub.error = "credentials expired before publishing: renew them in the channel settings"
            continue
        pub.status = "scheduled" if pub.scheduled_at and pub.scheduled_at > now() else "queued"
        to_enqueue.append(pub)
    audit(user, "publication.approve", recording, channels=[c.channel_id for c in choices])
    db.session.commit()
    for pub in to_enqueue:
        _enqueue(pub, run_at=pub.scheduled_at if pub.status == "scheduled" else None)
    return pubs


def stalled(pub: Publication) -> bool:
    """Active in the database, but nobody drives it: no lease (a running job keeps one alive) and no
    job waiting in RQ. That is a worker that died: killed, out of memory, machine lost."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    if pub.status not in ACTIVE or pub.status == "scheduled":
        return False
    conn = core.redis_connection()
    if conn.exists(lease_key(pub.id)):
        return False
    if pub.rq_job_id:
        try:
            job_status = Job.fetch(pub.rq_job_id, connection=conn).get_status(refresh=True)
        except NoSuchJobError:
            return True
        return job_status not in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
    return True


def reconcile_publications() -> list[int]:
    """Re-enqueue publications a dead worker left half-done; their jobs resume from the stored state.
    (For the periodic scheduler, beside `orchestrator.reconcile.reconcile`.)"""
    requeued = []
    rows = db.session.execute(db.select(Publication).where(Publication.status.in_(ACTIVE))).scalars().all()
    for pub in rows:
        if stalled(pub):
            _enqueue(pub, action="unpublish" if pub.status == "unpublishing" else "publish")
            requeued.append(pub.id)
    return requeued


def retry(pub: Publication, user: User | None) -> bool:
    if stalled(pub):
        audit(user, "publication.retry", pub, channel=pub.channel.kind, stalled=True)
        db.session.commit()
        _enqueue(pub, action="unpublish" if pub.status == "unpublishing" else "publish")
        return True
    if pub.status not in ("failed", "unpublished"):
        return False
    if credentials_expired(pub.channel):
        pub.error_code, pub.error = "expired_token", "credentials expired: renew them in the channel settings"
        db.session.commit()
        return False
    pub.status, pub.error, pub.error_code, pub.updated_at = "queued", None, None, now()
    audit(user, "publication.retry", pub, channel=pub.channel.kind)
    db.session.commit()
    _enqueue(pub)
    return True


def unpublish(pub: Publication, user: User | None) -> bool:
    if pub.status not in ("published", "processing", "failed"):
        return False
    pub.status, pub.updated_at = "unpublishing", now()
    audit(user, "publication.unpublish", pub, channel=pub.channel.kind)
    db.session.commit()
    _enqueue(pub, action="unpublish")
    return True


def _enqueue(pub: Publication, *, action: str = "publish", run_at: datetime | None = None) -> None:
    job = runtime.enqueue(unpublish_job if action == "unpublish" else publish_job, pub.id, at=run_at,
                          description=f"{action} publication {pub.id} ({pub.channel.kind})",
                          meta={"publication_id": pub.id, "percent": 0.0})
    pub.rq_job_id = job.id
    db.session.commit()


# --- the job bodies -------------------------------------------------------------------------------

def publish_timeout(_duration_s: float) -> int:
    return options().publish_timeout_s


PUBLISH_JOB = dict(timeout=publish_timeout, retry=RETRY_INTERVALS, result_ttl=7 * 24 * 3600,
                   failure_ttl=30 * 24 * 3600)


@runtime.job("publish", **PUBLISH_JOB)
def publish_job(publication_id: int) -> dict:
    return run_publication(publication_id)


@runtime.job("publish", **PUBLISH_JOB)
def unpublish_job(publication_id: int) -> dict:
    return run_unpublish(publication_id)


class Lease:
    """A Redis lock per publication, kept alive by a heartbeat thread while the job runs: a killed
    worker's lease runs out after DIEMCAU_PUBLISH_LEASE_S, and then a retry may take over (and resume)."""

    def __init__(self, publication_id: int):
        self.ttl = options().publish_lease_s
        self.lock = core.redis_connection().lock(lease_key(publication_id), timeout=self.ttl)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.lock.acquire(blocking=False):
            return False
        self._thread = threading.Thread(target=self._beat, daemon=True, name="publication-lease")
        self._thread.start()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.lock.extend(self.ttl, replace_ttl=True)
            except Exception:  # lost it (Redis restarted): the job finishes; a duplicate only confirms
                log.warning("publication lease lost: %s", self.lock.name)
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
            self.lock.release()


def lease_key(publication_id: int) -> str:
    return f"diemcau:publication:{publication_id}"


def _save_state(pub_id: int):
    def save(state: dict[str, Any]) -> None:
        db.session.execute(db.update(Publication).where(Publication.id == pub_id)
                           .values(remote_state=copy.deepcopy(state), updated_at=now()))
        db.session.commit()
    return save


def _progress():
    last = [0.0]

    def progress(percent: float) -> None:
        if time.monotonic() - last[0] < 1 and percent < 100:
            return
        last[0] = time.monotonic()
        job = get_current_job()
        if job is not None:
            job.meta["percent"] = round(float(percent), 1)
            job.save_meta()
    return progress


def _local_file(key: str, workdir: Path) -> Path:
    store = core.storage()
    path = store.local_path(key)
    if path is not None:
        return path
    return store.download(key, workdir / Path(key).name)


def build_context(pub: Publication, workdir: Path) -> JobContext:
    rec = pub.recording
    options = pub.options or {}
    settings = core.settings()
    portal = db.session.execute(db.select(Publication).join(Channel).where(
        Channel.kind == "portal", Publication.recording_id == rec.id,
        Publication.status == "published")).scalar_one_or_none()
    public_url = f"{settings.public_url}/v/{portal.slug}" if portal and portal.slug else None
    video = subtitles = thumbnail = None
    if pub.channel.kind != "portal":
        asset = db.session.get(Asset, options["asset_id"]) if options.get("asset_id") else None
        if asset is None or asset.recording_id != rec.id:  # gone or never there: degrade to the master
            cls = adapter_classes()[pub.channel.kind]
            chosen = default_rendition(rec, cls)
            asset = db.session.get(Asset, chosen.asset_id) if chosen else None
        if asset is not None:
            path = _local_file(asset.storage_key, workdir)
            video = MediaFile(path, path.stat().st_size, "video/mp4",
                              (asset.meta or {}).get("aspect") or ("9:16" if asset.kind == "social_cut" else "16:9"),
                              rec.duration_s)
        subtitles = [(a.language, _local_file(a.storage_key, workdir)) for a in rec.assets
                     if a.kind == "subtitles_vtt" and a.language]
        poster = rec.asset("poster")
        thumbnail = _local_file(poster.storage_key, workdir) if poster else None
    return JobContext(
        publication_id=pub.id, idempotency_key=pub.idempotency_key, recording_id=rec.id,
        title=pub.title or rec.event.title, description=pub.description or rec.event.description or "",
        video=video, subtitles=subtitles or [], thumbnail=thumbnail, privacy=options.get("privacy") or "public",
        scheduled_at=_aware(pub.scheduled_at), public_url=public_url, public_base=settings.public_url,
        thumbnail_url=f"{public_url}/poster.jpg" if public_url and rec.asset("poster") else None,
        state=copy.deepcopy(pub.remote_state or {}), save_state=_save_state(pub.id),
        progress=_progress(),
    )


def run_publication(pub_id: int) -> dict[str, Any]:
    pub = db.session.get(Publication, pub_id)
    if pub is None:
        return {"status": "gone"}
    if pub.status in ("published", "unpublished", "unpublishing"):
        return {"status": pub.status, "confirmed": True}  # a duplicate or late job: nothing to post
    lease = Lease(pub_id)
    if not lease.acquire():
        return {"status": "busy"}  # another worker is driving it; it records the outcome
    workdir = core.settings().work_dir / f"publication-{pub_id}"
    try:
        if credentials_expired(pub.channel):
            raise PublishError("expired_token", "credentials expired: renew them in the channel settings")
        pub.status, pub.attempts, pub.updated_at = "uploading", (pub.attempts or 0) + 1, now()
        pub.error = pub.error_code = None
        db.session.commit()
        workdir.mkdir(parents=True, exist_ok=True)
        adapter = build_adapter(pub.channel)
        ctx = build_context(pub, workdir)
        ref = adapter.publish(ctx)
        pub = db.session.get(Publication, pub_id)
        db.session.refresh(pub)
        pub.status = "published" if ref.status == "published" else "processing"
        pub.external_id, pub.external_url = ref.external_id, ref.url
        if pub.channel.kind == "portal":
            pub.slug = ref.external_id
        pub.published_at = pub.published_at or now()
        pub.error = pub.error_code = None
        pub.updated_at = now()
        db.session.commit()
        log.info("publication %s published on %s as %s", pub_id, pub.channel.kind, ref.external_id)
        return {"status": pub.status, "external_id": ref.external_id}
    except PublishError as exc:
        _record_failure(pub_id, exc.code, exc.detail, exc.retryable)
        if exc.retryable and _retries_left():
            raise
        return {"status": "failed", "error": exc.code}
    except Exception as exc:
        _record_failure(pub_id, "internal", f"{type(exc).__name__}: {exc}", True)
        raise
    finally:
        lease.release()
        shutil.rmtree(workdir, ignore_errors=True)


def _retries_left() -> bool:
    job = get_current_job()
    return bool(job is not None and job.retries_left)


def _record_failure(pub_id: int, code: str, detail: str, retryable: bool) -> None:
    db.session.rollback()
    pub = db.session.get(Publication, pub_id)
    pub.status = "retrying" if retryable and _retries_left() else "failed"
    pub.error_code, pub.error, pub.updated_at = code, (detail or code)[:4000], now()
    db.session.commit()
    log.warning("publication %s on %s: %s %s", pub_id, pub.channel.kind, code, (detail or "")[:300])


def run_unpublish(pub_id: int) -> dict[str, Any]:
    pub = db.session.get(Publication, pub_id)
    if pub is None or pub.status != "unpublishing":
        return {"status": getattr(pub, "status", "gone")}
    lease = Lease(pub_id)
    if not lease.acquire():
        return {"status": "busy"}
    try:
        ctx = JobContext(publication_id=pub.id, idempotency_key=pub.idempotency_key, recording_id=pub.recording_id,
                         title=pub.title or "", description="", video=None,
                         state=copy.deepcopy(pub.remote_state or {}), save_state=_save_state(pub.id))
        build_adapter(pub.channel).unpublish(ctx)
        pub = db.session.get(Publication, pub_id)
        db.session.refresh(pub)
        # A later approval posts afresh: the remote state of the removed post is kept only in the audit log.
        audit(None, "publication.unpublished", pub, external_id=pub.external_id)
        pub.status, pub.remote_state, pub.error, pub.error_code = "unpublished", {}, None, None
        pub.external_url, pub.updated_at = None, now()
        db.session.commit()
        return {"status": "unpublished"}
    except PublishError as exc:
        db.session.rollback()
        pub = db.session.get(Publication, pub_id)
        pub.status, pub.error_code, pub.error = "published", exc.code, exc.detail[:4000]
        db.session.commit()
        return {"status": "published", "error": exc.code}
    finally:
        lease.release()
