"""The body of each pipeline stage. Each takes (recording, workdir, progress) and returns a StageOutcome.

Stages call `media` and `transcribe` with local paths; they never write the database before
returning, so a failed stage leaves no half-recorded state.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from media import probe, transcode
from transcribe import build_cues, transcribe_file, write_srt, write_vtt

from . import core
from .db import db
from .models import Asset, Event, EventStatus, Publication, Recording, Transcript
from .naming import slugify
from .pipeline import StageOutcome, now
from .seed import portal_channel

Progress = Callable[[float], None]


def media_prefix(recording: Recording) -> str:
    return f"recordings/{recording.id}/media"


def subtitles_prefix(recording: Recording) -> str:
    return f"recordings/{recording.id}/subtitles"


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
    settings = core.settings()
    out = workdir / "media"
    result = transcode(local_source(recording, workdir), out, heights=(1080, 720, 480, 360),
                       progress=progress, preset=settings.transcode_preset)
    prefix = media_prefix(recording)
    store = core.storage()
    store.delete_prefix(prefix + "/")  # a re-run replaces, never mixes, the outputs
    store.put_dir(prefix, out)
    data = result.to_dict()
    data["local_dir"] = str(out)

    def record() -> None:
        upsert_asset(recording, "hls", f"{prefix}/{result.master_playlist}",
                     meta={"renditions": data["renditions"], "duration_s": result.duration_s})
        for kind, rel in (("mp4", result.mp4), ("audio", result.audio), ("poster", result.poster)):
            if rel:
                upsert_asset(recording, kind, f"{prefix}/{rel}")
    return StageOutcome(data, apply_extra=record)


def stage_transcribe(recording: Recording, workdir: Path, progress: Progress) -> StageOutcome:
    event = recording.event
    if event.confidential:
        return StageOutcome({"reason": "confidential"}, skipped=True)
    if not (recording.probe or {}).get("has_audio", True):
        return StageOutcome({"reason": "no_audio"}, skipped=True)
    settings = core.settings()
    language = event.language or "vi"
    transcript = transcribe_file(local_source(recording, workdir), language=language,
                                 model=settings.whisper_model, device=settings.whisper_device,
                                 cpu_threads=settings.whisper_threads, progress=progress)
    cues = build_cues(transcript)
    vtt = write_vtt(cues, workdir / f"subtitles.{language}.vtt", language=language)
    srt = write_srt(cues, workdir / f"subtitles.{language}.srt")
    prefix = subtitles_prefix(recording)
    store = core.storage()
    store.put_file(f"{prefix}/{language}.vtt", vtt, "text/vtt; charset=utf-8")
    store.put_file(f"{prefix}/{language}.srt", srt, "application/x-subrip; charset=utf-8")
    cue_dicts = [{"start": c.start, "end": c.end, "text": c.text} for c in cues]

    def record() -> None:
        row = db.session.execute(db.select(Transcript).filter_by(
            recording_id=recording.id, language=language, version=1)).scalar_one_or_none()
        if row is None:
            row = Transcript(recording_id=recording.id, language=language, version=1, source="automatic")
            db.session.add(row)
        row.text, row.cues, row.data = transcript.text, cue_dicts, transcript.to_dict()
        upsert_asset(recording, "subtitles_vtt", f"{prefix}/{language}.vtt", language)
        upsert_asset(recording, "subtitles_srt", f"{prefix}/{language}.srt", language)
    return StageOutcome({"language": language, "cues": len(cues), "text": transcript.text,
                         "vtt": str(vtt), "srt": str(srt)}, apply_extra=record)


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
        if pub.status != "published":
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
