"""The body of each pipeline stage. Each takes (recording, workdir, progress) and returns a StageOutcome.

Stages call `media` and `transcribe` with local paths; they never write the database before
returning, so a failed stage leaves no half-recorded state.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from media import probe

from . import core
from .asr import transcribe_recording
from .db import db
from .models import Asset, Event, EventStatus, Publication, Recording
from .naming import (
    slugify,
    subtitles_prefix,  # noqa: F401 (re-exported)
)
from .products import transcode_stage
from .runtime import StageOutcome, now
from .seed import portal_channel

Progress = Callable[[float], None]


def media_prefix(recording: Recording) -> str:
    return f"recordings/{recording.id}/media"


def local_source(recording: Recording, workdir: Path) -> Path:
    """The source file as a local path (no copy with local storage)."""
    store = core.storage()
    path = store.local_path(recording.source_key)
    if path is not None:
        return path
    return store.download(recording.source_key, workdir / ("source" + Path(recording.source_key).suffix))


def upsert_asset(recording: Recording, kind: str, key: str, language: str | None = None,
                 meta: dict | None = None) -> None:
    asset = recording.asset(kind, language)
    if asset is None:
        asset = Asset(recording=recording, kind=kind, language=language, storage_key=key)
        db.session.add(asset)
    asset.storage_key, asset.meta = key, meta


def stage_probe(recording: Recording, workdir: Path, progress: Progress) -> StageOutcome:
    info = probe(local_source(recording, workdir))

    def record() -> None:
        recording.duration_s, recording.probe = info.duration_s, info.to_dict()
    return StageOutcome(info.to_dict(), apply_extra=record)


def stage_transcode(recording: Recording, workdir: Path, progress: Progress) -> StageOutcome:
    # orchestrator.products: the ladder at -23 LUFS with poster, thumbnails and storyboard
    # (measured values in Asset.meta), the live trim applied, NVENC when usable, cancellable from the panel.
    data, record = transcode_stage(recording, workdir, local_source(recording, workdir), progress)
    return StageOutcome(data, apply_extra=record)


def stage_transcribe(recording: Recording, workdir: Path, progress: Progress) -> StageOutcome:
    event = recording.event
    if event.confidential:
        return StageOutcome({"reason": "confidential"}, skipped=True)
    if not (recording.probe or {}).get("has_audio", True):
        return StageOutcome({"reason": "no_audio"}, skipped=True)
    # Short recordings are transcribed here; long ones fan out to chunk jobs on the asr queue.
    return transcribe_recording(recording, local_source(recording, workdir), workdir, progress)


def stage_publish(recording: Recording, workdir: Path, progress: Progress) -> StageOutcome:
    """Publish to the built-in portal. The idempotency key makes a re-run confirm, not re-post."""
    event: Event = recording.event
    if event.confidential:
        return StageOutcome({"reason": "confidential"}, skipped=True)
    channel = portal_channel()
    key = f"{channel.kind}:recording:{recording.id}"
    publication = db.session.execute(db.select(Publication).filter_by(idempotency_key=key)).scalar_one_or_none()

    def record() -> None:
        pub = publication
        if pub is None:
            pub = Publication(recording_id=recording.id, channel_id=channel.id, idempotency_key=key,
                              slug=f"{slugify(event.title, 60)}-{recording.id}")
            db.session.add(pub)
        # An editor's unpublish (orchestrator.publishing) wins over a pipeline re-run.
        if pub.status not in ("published", "unpublished", "unpublishing"):
            pub.status, pub.published_at = "published", now()
        pub.attempts = (pub.attempts or 0) + 1
        event.status = EventStatus.PUBLISHED.value
    slug = publication.slug if publication else f"{slugify(event.title, 60)}-{recording.id}"
    return StageOutcome({"channel": "portal", "slug": slug}, apply_extra=record)


STAGE_FUNCTIONS = {
    "probe": stage_probe,
    "transcode": stage_transcode,
    "transcribe": stage_transcribe,
    "publish": stage_publish,
}
