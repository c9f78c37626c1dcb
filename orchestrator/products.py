"""Media products of a recording beyond the plain pipeline: edits (trims), vertical social cuts,
and the shared pieces the transcode stage uses (loudness target, encoder choice, cancellation,
the assets of a ladder).

A trim is an edit decision (kept source ranges) stored in `media_products`; applying it re-runs
the single-pass ladder on the untouched source with the cut applied inside the same ffmpeg run,
so the HLS ladder, download, audio, poster, thumbnails and storyboard follow the cut, and the
subtitles are re-timed from the transcript (cues in removed parts dropped). A social cut is a
9:16 MP4 of an edited range with the Vietnamese subtitles burned in, at −14 LUFS.

Jobs run on the `media` queue. Progress goes to the row's `percent` (throttled), and a cancel
from the panel sets a Redis flag that the progress callback checks: ffmpeg is stopped and the
partial outputs removed by the media layer.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundwork.config import options
from groundwork.redis_server import running_redis_url
from media import MediaError, transcode
from media import loudness as loud
from media.captions import write_srt, write_vtt
from media.encoders import EncoderChoice, choose_encoder
from media.hls import SubtitleTrack, subtitle_playlist_text, with_subtitles
from media.ladder import output_fps
from media.social import MAX_SECONDS, MODES, check_range, make_social_cut
from media.timeline import Timeline, parse_time, shift_cues

from . import core
from .db import db
from .models import (
    MEDIA_PRODUCT_ACTIVE,
    Asset,
    EventStatus,
    MediaProduct,
    Recording,
    StageRun,
    StageStatus,
    Transcript,
    User,
    audit,
)
from .runtime import Progress, UserFacingError, enqueue, job, now

log = logging.getLogger(__name__)

TRIM = "trim"
SOCIAL_CUT = "social_cut"
KINDS = (TRIM, SOCIAL_CUT)
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = MEDIA_PRODUCT_ACTIVE
LADDER_HEIGHTS = (1080, 720, 480, 360)
# Asset kinds the ladder produces; a re-run that no longer makes one of them removes its row.
MEDIA_KINDS = ("hls", "mp4", "audio", "poster", "thumb_large", "thumb_small", "storyboard")
CANCEL_TTL_S = 24 * 3600


class JobCancelled(UserFacingError):
    """Raised from a progress callback when the panel asked to stop the job."""

    def __init__(self, detail: str = "cancelled from the panel"):
        super().__init__("cancelled", detail)


# --- configuration --------------------------------------------------------------------------------

def encoder_choice() -> EncoderChoice:
    """DIEMCAU_VIDEO_ENCODER: auto (NVENC when a trial encode works, else libx264), libx264 or h264_nvenc."""
    return choose_encoder(options().video_encoder)


def x264_crf() -> int:
    return options().x264_crf


# --- cancellation ---------------------------------------------------------------------------------

def product_cancel_key(product_id: int) -> str:
    return f"diemcau:cancel:product:{product_id}"


def stage_cancel_key(recording_id: int, stage: str) -> str:
    return f"diemcau:cancel:stage:{recording_id}:{stage}"


def cancellable(progress: Callable[[float], None] | None, key: str, token: str = "1",
                min_interval_s: float = 0.5) -> Callable[[float], None]:
    """Wrap a progress callback: raise JobCancelled once Redis holds `token` at `key`.

    Without a Redis (`diemcau process` on a fresh data folder) nobody can set the flag: no checks,
    and no private Redis started just to look for one."""
    if running_redis_url(core.settings()) is None:
        return progress or (lambda _percent: None)
    conn = core.redis_connection()
    last = [0.0]

    def check(percent: float) -> None:
        t = time.monotonic()
        if t - last[0] >= min_interval_s or percent <= 0:
            last[0] = t
            value = conn.get(key)
            if value is not None and value.decode() == token:
                raise JobCancelled()
        if progress is not None:
            progress(percent)
    return check


def _cancel_rq_job(job_id: str | None) -> None:
    if not job_id:
        return
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=core.redis_connection())
    except NoSuchJobError:
        return
    if job.get_status(refresh=True) in ("queued", "deferred", "scheduled"):
        job.cancel()


def cancel_stage(run: StageRun, user: User | None) -> bool:
    """Stop a queued or running transcode stage. Returns False when there was nothing to stop."""
    if run.stage != "transcode" or run.status not in (StageStatus.QUEUED.value, StageStatus.RUNNING.value):
        return False
    conn = core.redis_connection()
    if run.status == StageStatus.QUEUED.value:
        # Not started: take it off the queue; the flag also covers a worker picking it up right now.
        conn.set(stage_cancel_key(run.recording_id, run.stage), str(run.attempts + 1), ex=CANCEL_TTL_S)
        _cancel_rq_job(run.rq_job_id)
        run.status, run.error_code, run.error_detail = StageStatus.FAILED.value, "cancelled", "cancelled while queued"
        run.finished_at = now()
        run.recording.event.status = EventStatus.FAILED.value
    else:
        # The running job sees the flag at its next progress report (every half second) and stops ffmpeg.
        conn.set(stage_cancel_key(run.recording_id, run.stage), str(run.attempts), ex=CANCEL_TTL_S)
    audit(user, "stage.cancel", run, stage=run.stage)
    db.session.commit()
    return True


def cancel_product(product: MediaProduct, user: User | None) -> bool:
    if not product.active:
        return False
    core.redis_connection().set(product_cancel_key(product.id), "1", ex=CANCEL_TTL_S)
    if product.status == QUEUED:
        _cancel_rq_job(product.rq_job_id)
        product.status, product.finished_at = CANCELLED, now()
    audit(user, "media_product.cancel", product, kind=product.kind)
    db.session.commit()
    return True


# --- edits ----------------------------------------------------------------------------------------

def current_trim(recording: Recording) -> MediaProduct | None:
    """The trim whose outputs are live: the latest finished one."""
    return db.session.execute(
        db.select(MediaProduct).filter_by(recording_id=recording.id, kind=TRIM, status=DONE)
        .order_by(MediaProduct.finished_at.desc(), MediaProduct.id.desc()).limit(1)
    ).scalar_one_or_none()


def current_timeline(recording: Recording) -> Timeline | None:
    """The kept source ranges of the live edit, None when the recording plays whole."""
    trim = current_trim(recording)
    if trim is None or (trim.params or {}).get("reset"):
        return None
    return Timeline.from_ranges((trim.params or {})["keep"])


def preview_fps(recording: Recording) -> float:
    """Frame rate of the outputs (the preview steps by these frames)."""
    return float(output_fps((recording.probe or {}).get("fps")))


def edited_duration(recording: Recording) -> float:
    timeline = current_timeline(recording)
    return timeline.duration if timeline is not None else float(recording.duration_s or 0.0)


def latest_transcripts(recording: Recording) -> dict[str, Transcript]:
    """The newest transcript version per language (cues on the source timeline)."""
    rows = db.session.execute(
        db.select(Transcript).filter_by(recording_id=recording.id).order_by(Transcript.version)
    ).scalars()
    return {row.language: row for row in rows}


class EditRefused(UserFacingError):
    pass


def _ensure_editable(recording: Recording, kind: str) -> None:
    transcode_run = recording.stage("transcode")
    if transcode_run is None or transcode_run.status != StageStatus.DONE.value or recording.asset("mp4") is None:
        raise EditRefused("not_ready", "the video has not been converted yet")
    if kind == TRIM:
        transcribe_run = recording.stage("transcribe")
        if transcribe_run is not None and transcribe_run.status in ("pending", "queued", "running"):
            # Subtitles made after the cut would be on the uncut timeline.
            raise EditRefused("subtitles_running", "wait for the subtitles before trimming")
        busy = db.session.execute(db.select(MediaProduct.id).filter(
            MediaProduct.recording_id == recording.id, MediaProduct.kind == TRIM,
            MediaProduct.status.in_(ACTIVE))).first()
        if busy:
            raise EditRefused("edit_busy", "another trim of this recording is still running")


def create_trim(recording: Recording, user: User | None, *, in_s: Any = None, out_s: Any = None,
                cuts: list | None = None, reset: bool = False) -> MediaProduct:
    """Validate an editor's trim (times on the current edited timeline) and queue its job.

    Raises MediaError (trim_out_of_range, trim_empty) or EditRefused; nothing is stored then.
    """
    _ensure_editable(recording, TRIM)
    source_duration = float(recording.duration_s or 0.0)
    base = current_timeline(recording)
    if reset:
        keep = Timeline.whole(source_duration)
    else:
        edit = Timeline.from_edit(edited_duration(recording), in_s, out_s, cuts or [], fps=preview_fps(recording))
        keep = edit if base is None else Timeline(tuple(r for a, b in edit.keep for r in base.source_ranges(a, b)))
    params = {
        "edit": {"in_s": in_s, "out_s": out_s, "cuts": cuts or []},
        "base": base.to_json() if base is not None else None,
        "keep": keep.to_json(),
        "reset": bool(reset) or keep.is_whole(source_duration),
        "duration_s": keep.duration,
    }
    product = MediaProduct(recording_id=recording.id, kind=TRIM, params=params,
                           created_by_id=user.id if user else None)
    db.session.add(product)
    db.session.flush()
    audit(user, "recording.trim", recording, product=product.id, keep=params["keep"])
    db.session.commit()
    _enqueue(product, keep.duration)
    return product


def create_social_cut(recording: Recording, user: User | None, *, start_s: Any, end_s: Any,
                      mode: str = "centre", language: str = "vi") -> MediaProduct:
    """Queue a 9:16 cut of edited [start_s, end_s] (at most 90 s) with `language` subtitles burned in."""
    if not (recording.probe or {}).get("has_video", True):
        raise MediaError("no_streams", "a social cut needs a picture")
    _ensure_editable(recording, SOCIAL_CUT)
    if mode not in MODES:
        raise EditRefused("bad_mode", f"mode must be one of {MODES}")
    fps = preview_fps(recording)
    start = round(round(parse_time(start_s) * fps) / fps, 3)
    end = round(round(parse_time(end_s) * fps) / fps, 3)
    check_range(edited_duration(recording), start, end)
    base = current_timeline(recording) or Timeline.whole(float(recording.duration_s or 0.0))
    keep = base.sub(start, min(end, base.duration))
    params = {"start_s": start, "end_s": end, "mode": mode, "language": language, "keep": keep.to_json()}
    product = MediaProduct(recording_id=recording.id, kind=SOCIAL_CUT, params=params,
                           created_by_id=user.id if user else None)
    db.session.add(product)
    db.session.flush()
    audit(user, "recording.social_cut", recording, product=product.id, start=start, end=end, mode=mode)
    db.session.commit()
    _enqueue(product, keep.duration)
    return product


def _enqueue(product: MediaProduct, duration_s: float) -> None:
    job = enqueue(
        run_product_job, product.id, duration_s=duration_s,
        description=f"{product.kind} {product.id} of recording {product.recording_id}",
        meta={"product_id": product.id, "percent": 0.0},
    )
    product.rq_job_id = job.id
    db.session.commit()


def products_of(recording: Recording, limit: int = 20) -> list[MediaProduct]:
    return list(db.session.execute(
        db.select(MediaProduct).filter_by(recording_id=recording.id).order_by(MediaProduct.id.desc()).limit(limit)
    ).scalars())


# --- the ladder and its assets (the transcode stage and trims) ------------------------------------

def media_prefix(recording: Recording) -> str:
    return f"recordings/{recording.id}/media"


def produce_media(recording: Recording, src: Path, out: Path, progress: Callable[[float], None],
                  timeline: Timeline | None = None) -> tuple[dict[str, Any], Callable[[], None]]:
    """Transcode `src` (cut to `timeline`) into the ladder at −23 LUFS and store it.

    Returns the result dict and a function that records the assets (to run inside the caller's
    final transaction, so the database never points at half-written outputs).
    """
    settings = core.settings()
    choice = encoder_choice()
    result = transcode(src, out, heights=LADDER_HEIGHTS, progress=progress, preset=settings.transcode_preset,
                       crf=x264_crf(), video_encoder=choice.encoder, timeline=timeline, loudness=loud.BROADCAST)
    prefix = media_prefix(recording)
    store = core.storage()
    store.delete_prefix(prefix + "/")  # a re-run replaces, never mixes, the outputs
    store.put_dir(prefix, out)
    data = result.to_dict()
    data["local_dir"] = str(out)
    data["encoder_reason"] = choice.reason

    def record() -> None:
        common = {"timeline": result.timeline, "duration_s": result.duration_s}
        made: dict[str, tuple[str, dict[str, Any]]] = {
            "hls": (result.master_playlist, {"renditions": data["renditions"], "loudness": result.loudness,
                                             "video_encoder": result.video_encoder, **common}),
        }
        # "aspect" and "target_lufs" are what publishing (orchestrator.publishing.service.renditions) reads.
        top = next((r for r in result.renditions if r.height), None)
        target = (result.loudness or {}).get("target_lufs")
        if result.mp4:
            aspect = "9:16" if top and top.height and top.width and top.height > top.width else "16:9"
            made["mp4"] = (result.mp4, {"loudness": result.loudness, "target_lufs": target, "aspect": aspect,
                                        "width": top.width if top else None, "height": top.height if top else None,
                                        **common})
        if result.audio:
            made["audio"] = (result.audio, {"loudness": result.loudness, **common})
        if result.poster:
            made["poster"] = (result.poster, {"time_s": result.poster_time_s, **common})
        for size, rel in result.thumbnails.items():
            made[f"thumb_{size}"] = (rel, {"size": size, "time_s": result.poster_time_s})
        if result.storyboard:
            # The asset's key is the WebVTT map (players load it; it names the sprite beside it).
            sb = result.storyboard
            made["storyboard"] = (sb["vtt"], {**sb, "vtt": f"{prefix}/{sb['vtt']}", "image": f"{prefix}/{sb['image']}",
                                              **common})
        for kind, (rel, meta) in made.items():
            upsert_asset(recording, kind, f"{prefix}/{rel}", meta=meta)
        for kind in MEDIA_KINDS:
            stale = recording.asset(kind)
            if kind not in made and stale is not None:
                db.session.delete(stale)
    return data, record


LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English", "fr": "Français", "zh": "中文", "km": "ភាសាខ្មែរ",
                  "lo": "ພາສາລາວ"}


def attach_subtitles_to_master(recording: Recording, tracks: list[tuple[str, str]] | None = None) -> list[str]:
    """Declare the subtitles in the stored master playlist (an HLS SUBTITLES group), for players that
    read subtitles from the stream (Safari, VLC, smart TVs) rather than from <track> elements.

    `tracks` are (language, WebVTT storage key); by default the recording's subtitles_vtt assets.
    Call again whenever the subtitles change (transcription, an edit). Returns the languages.
    """
    hls = recording.asset("hls")
    if hls is None:
        return []
    if tracks is None:
        tracks = sorted(((a.language, a.storage_key) for a in recording.assets
                         if a.kind == "subtitles_vtt" and a.language), key=lambda t: t[0] != "vi")
    duration = float((hls.meta or {}).get("duration_s") or recording.duration_s or 0.0)
    return write_master_subtitles(hls.storage_key, duration, tracks, recording.event.language)


def write_master_subtitles(master_key: str, duration_s: float, tracks: list[tuple[str, str]],
                           default_language: str | None = None) -> list[str]:
    """Each WebVTT is copied beside the playlists as subs-<lang>.vtt with a one-segment media playlist,
    so the same relative URIs work from local storage, the portal routes and S3."""
    store = core.storage()
    folder = master_key.rsplit("/", 1)[0]
    playlist_type = "application/vnd.apple.mpegurl"
    entries = []
    for language, key in tracks:
        store.put_bytes(f"{folder}/subs-{language}.vtt", store.get_bytes(key), "text/vtt; charset=utf-8")
        playlist = subtitle_playlist_text(f"subs-{language}.vtt", duration_s)
        store.put_bytes(f"{folder}/subs-{language}.m3u8", playlist.encode(), playlist_type)
        entries.append(SubtitleTrack(language, LANGUAGE_NAMES.get(language, language), f"subs-{language}.m3u8",
                                     default=language == default_language))
    master = store.get_bytes(master_key).decode("utf-8")
    store.put_bytes(master_key, with_subtitles(master, entries).encode("utf-8"), playlist_type)
    return [t.language for t in entries]


def upsert_asset(recording: Recording, kind: str, key: str, language: str | None = None,
                 meta: dict | None = None) -> Asset:
    asset = recording.asset(kind, language)
    if asset is None:
        asset = Asset(recording=recording, kind=kind, language=language, storage_key=key)
        db.session.add(asset)
    asset.storage_key, asset.meta = key, meta
    return asset


def transcode_stage(recording: Recording, workdir: Path, src: Path, progress: Callable[[float], None]):
    """The body of the pipeline's transcode stage: the ladder of the live edit (if any), cancellable."""
    run = recording.stage("transcode")
    attempt = str(run.attempts) if run is not None else "0"
    guarded = cancellable(progress, stage_cancel_key(recording.id, "transcode"), token=attempt)
    data, record = produce_media(recording, src, workdir / "media", guarded, timeline=current_timeline(recording))
    # A re-run after transcription: the new master declares the existing subtitles again.
    tracks = [(a.language, a.storage_key) for a in recording.assets if a.kind == "subtitles_vtt" and a.language]
    if tracks:
        write_master_subtitles(f"{media_prefix(recording)}/{data['master_playlist']}", data["duration_s"], tracks,
                               recording.event.language)
    return data, record


# --- running product jobs ---------------------------------------------------------------------------

@job("media", timeout=lambda duration_s: int(max(900, 6 * duration_s)))
def run_product_job(product_id: int) -> dict:
    product = run_product(product_id)
    if product is None:
        return {"product": product_id, "status": "missing"}
    return {"product": product.id, "status": product.status}


def run_product(product_id: int) -> MediaProduct | None:
    product = db.session.get(MediaProduct, product_id)
    if product is None or product.status not in ACTIVE:
        return product
    conn = core.redis_connection()
    if conn.get(product_cancel_key(product.id)) is not None:
        product.status, product.finished_at = CANCELLED, now()
        db.session.commit()
        return product
    product.status, product.started_at, product.percent = RUNNING, now(), 0.0
    db.session.commit()
    workdir = core.settings().work_dir / f"product{product.id}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    progress = cancellable(Progress(product), product_cancel_key(product.id))
    try:
        body = _run_trim if product.kind == TRIM else _run_social_cut
        result, record = body(product, workdir, progress)
    except JobCancelled:
        db.session.rollback()
        _finish(product, CANCELLED, None, None)
        return product
    except (MediaError, UserFacingError) as exc:
        db.session.rollback()
        _finish(product, FAILED, exc.code, exc.detail or str(exc))
        return product
    except Exception as exc:
        db.session.rollback()
        _finish(product, FAILED, "internal", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    record()
    product.status, product.percent, product.finished_at, product.result = DONE, 100.0, now(), result
    product.error_code = product.error_detail = None
    db.session.commit()
    return product


def _finish(product: MediaProduct, status: str, code: str | None, detail: str | None) -> None:
    product = db.session.get(MediaProduct, product.id)
    product.status, product.finished_at = status, now()
    product.error_code, product.error_detail = code, (detail or "")[:4000] or None
    db.session.commit()
    if code:
        log.warning("%s %s failed: %s %s", product.kind, product.id, code, (detail or "")[:300])


def _source(recording: Recording, workdir: Path) -> Path:
    store = core.storage()
    path = store.local_path(recording.source_key)
    if path is not None:
        return path
    return store.download(recording.source_key, workdir / ("source" + Path(recording.source_key).suffix))


def _run_trim(product: MediaProduct, workdir: Path, progress):
    recording = product.recording
    params = product.params or {}
    timeline = None if params.get("reset") else Timeline.from_ranges(params["keep"])
    src = _source(recording, workdir)
    data, record_media = produce_media(recording, src, workdir / "media", lambda p: progress(p * 0.97), timeline)
    subtitles = edited_subtitles(recording, timeline, workdir / "subtitles")
    progress(99.0)
    write_master_subtitles(f"{media_prefix(recording)}/{data['master_playlist']}", data["duration_s"],
                           [(s["language"], s["subtitles_vtt"]) for s in subtitles], recording.event.language)

    def record() -> None:
        record_media()
        for item in subtitles:
            for kind in ("subtitles_vtt", "subtitles_srt"):
                upsert_asset(recording, kind, item[kind], item["language"],
                             meta={"timeline": item["timeline"], "transcript_version": item["version"],
                                   "cues": item["cues"], "dropped": item["dropped"]})
    result = {"duration_s": data["duration_s"], "keep": params["keep"], "reset": bool(params.get("reset")),
              "loudness": data.get("loudness"), "subtitles": [s["language"] for s in subtitles],
              "video_encoder": data.get("video_encoder")}
    return result, record


def edited_subtitles(recording: Recording, timeline: Timeline | None, workdir: Path) -> list[dict[str, Any]]:
    """Subtitle files re-timed to `timeline` for every transcript language, stored under edit/."""
    store = core.storage()
    out = []
    for language, transcript in latest_transcripts(recording).items():
        cues = list(transcript.cues or [])
        if not cues:
            continue
        shifted = shift_cues(cues, timeline) if timeline is not None else [dict(c) for c in cues]
        prefix = f"recordings/{recording.id}/edit/subtitles"
        vtt = write_vtt(shifted, workdir / f"{language}.vtt", language)
        srt = write_srt(shifted, workdir / f"{language}.srt")
        store.put_file(f"{prefix}/{language}.vtt", vtt, "text/vtt; charset=utf-8")
        store.put_file(f"{prefix}/{language}.srt", srt, "application/x-subrip; charset=utf-8")
        out.append({"language": language, "version": transcript.version,
                    "subtitles_vtt": f"{prefix}/{language}.vtt", "subtitles_srt": f"{prefix}/{language}.srt",
                    "cues": len(shifted), "dropped": len(cues) - len(shifted),
                    "timeline": timeline.to_json() if timeline is not None else None})
    return out


def _run_social_cut(product: MediaProduct, workdir: Path, progress):
    recording = product.recording
    params = product.params or {}
    keep = Timeline.from_ranges(params["keep"])
    if keep.duration > MAX_SECONDS + 1e-6:
        raise MediaError("range_too_long", f"{keep.duration} s")
    language = params.get("language") or "vi"
    transcript = latest_transcripts(recording).get(language)
    cues = shift_cues(transcript.cues or [], keep) if transcript is not None else []
    src = _source(recording, workdir)
    settings = core.settings()
    choice = encoder_choice()
    dest = workdir / "social.mp4"
    cut = make_social_cut(src, dest, keep, mode=params.get("mode") or "centre", cues=cues,
                          preset=settings.transcode_preset, video_encoder=choice.encoder, progress=progress)
    key = f"recordings/{recording.id}/social/{product.id}.mp4"
    core.storage().put_file(key, dest, "video/mp4")
    meta = {"product_id": product.id, "start_s": params.get("start_s"), "end_s": params.get("end_s"),
            "aspect": "9:16", "target_lufs": loud.SOCIAL.integrated,
            "mode": cut.mode, "language": language if cues else None, "cues": cut.cues, "font": cut.font,
            "duration_s": cut.duration_s, "width": cut.width, "height": cut.height, "loudness": cut.loudness,
            "source_ranges": cut.source_ranges}

    def record() -> None:
        upsert_asset(recording, SOCIAL_CUT, key, meta=meta)
    return {"key": key, **meta}, record


def product_json(product: MediaProduct) -> dict[str, Any]:
    params = product.params or {}
    return {
        "id": product.id,
        "kind": product.kind,
        "status": product.status,
        "percent": round(product.percent or 0.0, 1),
        "error_code": product.error_code,
        "params": {k: v for k, v in params.items() if k != "base"},
        "result": product.result,
        "created_at": product.created_at.isoformat() if product.created_at else None,
        "finished_at": product.finished_at.isoformat() if product.finished_at else None,
    }
