"""Trims and social cuts as real jobs: real PostgreSQL/Redis, real RQ jobs in-process, real ffmpeg.

A recording is ingested and its transcode stage run for real; a transcript row stands in for the
transcription stage (owned elsewhere) so that the subtitle side of the edits can be checked.
"""
from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import m3u8
import pytest

from media import MediaError
from media.captions import read_vtt
from media.timeline import Timeline, shift_cues
from orchestrator import core
from orchestrator import products as prod
from orchestrator.db import db
from orchestrator.models import Recording, StageRun, Transcript
from orchestrator.pipeline import ingest_file, retry_stage, run_stage
from tests.conftest import run_worker_burst
from tests.media_helpers import ebur128, ffprobe_json, make_video

CUES = [
    {"start": 0.3, "end": 1.5, "text": "Kính thưa các đồng chí"},  # before the in point
    {"start": 2.2, "end": 3.4, "text": "hội nghị trực tuyến"},
    {"start": 4.2, "end": 4.8, "text": "đoạn bị cắt bỏ"},  # inside the cut
    {"start": 5.6, "end": 6.8, "text": "xin cảm ơn"},
]


@pytest.fixture(scope="module")
def editor(make_user):
    return make_user("editor")


def _stage(rec_id: int, name: str) -> StageRun:
    db.session.expire_all()
    return db.session.get(Recording, rec_id).stage(name)


def _convert(editor, folder: Path) -> Recording:
    """An 8 s 640x360 recording with speech, converted by the real transcode stage, with a transcript."""
    src = make_video(folder / "hop.mp4", duration=8.0, width=640, height=360, audio="speech")
    rec = ingest_file(src, original_filename="Họp giao ban.mp4", user=editor)
    run_stage(rec.id, "transcode", enqueue=False)
    assert _stage(rec.id, "transcode").status == "done", _stage(rec.id, "transcode").error_detail
    rec = db.session.get(Recording, rec.id)
    rec.stage("transcribe").status = "done"
    db.session.add(Transcript(recording_id=rec.id, language="vi", version=1, source="automatic",
                              text=" ".join(c["text"] for c in CUES), cues=CUES))
    db.session.commit()
    return rec


@pytest.fixture(scope="module")
def shared_rec(app, editor, tmp_path_factory) -> Recording:
    """One converted recording for the tests that leave its edit alone."""
    return _convert(editor, tmp_path_factory.mktemp("shared-rec"))


@pytest.fixture
def converted(app, editor, tmp_path) -> Recording:
    """A converted recording of its own, for tests that cut it."""
    return _convert(editor, tmp_path)


def _asset(rec_id: int, kind: str, language: str | None = None):
    db.session.expire_all()
    return db.session.get(Recording, rec_id).asset(kind, language)


def _local(key: str) -> Path:
    path = core.storage().local_path(key)
    assert path is not None and path.is_file(), key
    return path


def test_transcode_stage_stores_loudness_pictures_and_storyboard(shared_rec: Recording) -> None:
    rec_id = shared_rec.id
    audio = _asset(rec_id, "audio")
    loud = audio.meta["loudness"]
    assert loud["target_lufs"] == -23.0 and loud["within_target"]
    integrated, peak = ebur128(_local(audio.storage_key))
    assert abs(integrated + 23.0) <= 1.0 and peak <= -1.0
    assert _asset(rec_id, "hls").meta["loudness"]["output"]["integrated"] == loud["output"]["integrated"]
    sb = _asset(rec_id, "storyboard")
    assert sb.storage_key == sb.meta["vtt"] == f"recordings/{rec_id}/media/storyboard.vtt"
    assert sb.meta["image"] == f"recordings/{rec_id}/media/storyboard.jpg" and _local(sb.meta["image"])
    assert len(read_vtt(_local(sb.meta["vtt"]))) == sb.meta["count"] == 4
    for kind, width in (("thumb_large", 640), ("thumb_small", 320), ("poster", 640)):
        info = ffprobe_json(_local(_asset(rec_id, kind).storage_key), "-show_streams")["streams"][0]
        assert info["width"] == width, kind


def test_trim_re_renders_everything_and_shifts_subtitles(app, converted: Recording, editor) -> None:
    rec_id = converted.id
    source_digest = hashlib.sha256(_local(converted.source_key).read_bytes()).hexdigest()
    product = prod.create_trim(converted, editor, in_s=2.0, out_s=7.0, cuts=[[4.0, 5.0]])
    assert product.params["keep"] == [[2.0, 4.0], [5.0, 7.0]] and product.status == "queued"

    run_worker_burst(app, ("media",))

    db.session.expire_all()
    product = db.session.get(prod.MediaProduct, product.id)
    assert product.status == "done", (product.error_code, product.error_detail)
    assert product.percent == 100.0
    hls = _asset(rec_id, "hls")
    assert hls.meta["timeline"] == [[2.0, 4.0], [5.0, 7.0]]
    mp4 = _local(_asset(rec_id, "mp4").storage_key)
    assert abs(float(ffprobe_json(mp4)["format"]["duration"]) - 4.0) <= 0.1
    assert _asset(rec_id, "storyboard").meta["count"] == 2  # 4 s: tiles at 0 and 2 s
    assert _asset(rec_id, "audio").meta["loudness"]["within_target"]

    # Subtitles follow the cut: the cue before the in point and the one inside the cut are gone.
    vtt_asset = _asset(rec_id, "subtitles_vtt", "vi")
    assert vtt_asset.storage_key == f"recordings/{rec_id}/edit/subtitles/vi.vtt"
    assert vtt_asset.meta["dropped"] == 2
    cues = read_vtt(_local(vtt_asset.storage_key))
    assert [(c["text"], c["start"], c["end"]) for c in cues] == [
        ("hội nghị trực tuyến", 0.2, 1.4),
        ("xin cảm ơn", 2.6, 3.8),
    ]
    assert "xin cảm ơn" in _local(_asset(rec_id, "subtitles_srt", "vi").storage_key).read_text()
    # The master playlist declares them as an HLS subtitle group, with the shifted copy beside it.
    master = m3u8.load(str(_local(hls.storage_key)))
    (subs,) = [m for m in master.media if m.type == "SUBTITLES"]
    assert (subs.language, subs.default, subs.uri) == ("vi", "YES", "subs-vi.m3u8")
    assert all(p.stream_info.subtitles == "subs" for p in master.playlists if p.stream_info.resolution)
    folder = _local(hls.storage_key).parent
    assert m3u8.load(str(folder / "subs-vi.m3u8")).segments[0].uri == "subs-vi.vtt"
    assert read_vtt(folder / "subs-vi.vtt") == cues
    # The original is untouched, and so is the transcript (cues stay on the source timeline).
    assert hashlib.sha256(_local(converted.source_key).read_bytes()).hexdigest() == source_digest
    assert db.session.get(Transcript, db.session.execute(db.select(Transcript.id).filter_by(
        recording_id=rec_id)).scalar_one()).cues == CUES

    # A second trim works on what the editor now sees (the 4 s cut) and maps back to the source.
    rec = db.session.get(Recording, rec_id)
    second = prod.create_trim(rec, editor, in_s=1.0, out_s=3.0)
    assert second.params["keep"] == [[3.0, 4.0], [5.0, 6.0]]
    # ... and "restore the whole recording" goes back to the source timeline.
    run_worker_burst(app, ("media",))
    rec = db.session.get(Recording, rec_id)
    assert prod.current_timeline(rec).keep == ((3.0, 4.0), (5.0, 6.0))
    third = prod.create_trim(rec, editor, reset=True)
    run_worker_burst(app, ("media",))
    db.session.expire_all()
    assert db.session.get(prod.MediaProduct, third.id).status == "done"
    assert prod.current_timeline(db.session.get(Recording, rec_id)) is None
    assert _asset(rec_id, "hls").meta["timeline"] is None
    assert len(read_vtt(_local(_asset(rec_id, "subtitles_vtt", "vi").storage_key))) == len(CUES)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"in_s": 3, "out_s": 20}, "trim_out_of_range"), ({"cuts": [[0, 7.9]]}, "trim_empty")],
)
def test_bad_trims_store_nothing(shared_rec: Recording, editor, kwargs, code) -> None:
    before = db.session.execute(db.select(db.func.count(prod.MediaProduct.id))).scalar_one()
    with pytest.raises(MediaError) as exc:
        prod.create_trim(shared_rec, editor, **kwargs)
    assert exc.value.code == code
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count(prod.MediaProduct.id))).scalar_one() == before


def test_trim_waits_for_subtitles(shared_rec: Recording, editor) -> None:
    shared_rec.stage("transcribe").status = "running"
    db.session.commit()
    try:
        with pytest.raises(prod.EditRefused) as exc:
            prod.create_trim(shared_rec, editor, in_s=1.0)
        assert exc.value.code == "subtitles_running"
    finally:
        shared_rec.stage("transcribe").status = "done"
        db.session.commit()


def test_social_cut_job(app, shared_rec: Recording, editor) -> None:
    product = prod.create_social_cut(shared_rec, editor, start_s=2.0, end_s=6.0, mode="blur", language="vi")
    assert product.params["keep"] == [[2.0, 6.0]]
    run_worker_burst(app, ("media",))
    db.session.expire_all()
    product = db.session.get(prod.MediaProduct, product.id)
    assert product.status == "done", (product.error_code, product.error_detail)
    asset = _asset(shared_rec.id, "social_cut")
    assert asset.storage_key == f"recordings/{shared_rec.id}/social/{product.id}.mp4"
    path = _local(asset.storage_key)
    video = next(s for s in ffprobe_json(path)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (1080, 1920)
    integrated, peak = ebur128(path)
    assert abs(integrated + 14.0) <= 1.0 and peak <= -1.0
    assert asset.meta["loudness"]["within_target"] and asset.meta["mode"] == "blur"
    # Cues wholly or partly inside 2-6 s are burned in: "hội nghị trực tuyến", the cut one, "xin cảm ơn".
    expected = shift_cues(CUES, Timeline(((2.0, 6.0),)))
    assert asset.meta["cues"] == len(expected) == 3


def test_social_cut_longer_than_90_s_is_refused(shared_rec: Recording, editor) -> None:
    with pytest.raises(MediaError) as exc:
        prod.create_social_cut(shared_rec, editor, start_s=0, end_s=7.9 + 90)
    assert exc.value.code in ("range_too_long", "trim_out_of_range")
    with pytest.raises(MediaError) as exc:
        prod.create_social_cut(shared_rec, editor, start_s=-1, end_s=3)
    assert exc.value.code == "trim_out_of_range"


def _cancel_when_running(app, check, cancel) -> threading.Thread:
    """A second thread (with its own app context, like the web process) that cancels once `check()`."""
    def body():
        with app.app_context():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                db.session.expire_all()
                if check():
                    cancel()
                    return
                time.sleep(0.05)
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def test_cancel_a_running_trim_stops_ffmpeg_and_changes_nothing(app, converted: Recording, editor) -> None:
    rec_id = converted.id
    before = {k: _asset(rec_id, k).storage_key for k in ("hls", "mp4", "storyboard")}
    mp4_digest = hashlib.sha256(_local(before["mp4"]).read_bytes()).hexdigest()
    product = prod.create_trim(converted, editor, in_s=1.0, out_s=7.0)
    pid = product.id

    def running() -> bool:
        row = db.session.get(prod.MediaProduct, pid)
        return row.status == "running" and row.percent > 0

    thread = _cancel_when_running(app, running, lambda: prod.cancel_product(db.session.get(prod.MediaProduct, pid),
                                                                            None))
    started = time.monotonic()
    run_worker_burst(app, ("media",))
    thread.join(5)
    db.session.expire_all()
    product = db.session.get(prod.MediaProduct, pid)
    assert product.status == "cancelled", (product.status, product.error_code, product.error_detail)
    assert product.percent < 100
    assert {k: _asset(rec_id, k).storage_key for k in before} == before
    assert _asset(rec_id, "hls").meta["timeline"] is None  # still the whole recording
    assert hashlib.sha256(_local(before["mp4"]).read_bytes()).hexdigest() == mp4_digest
    assert not (core.settings().work_dir / f"product{pid}").exists()  # partial outputs removed
    assert time.monotonic() - started < 60


def test_cancel_a_queued_social_cut(app, shared_rec: Recording, editor) -> None:
    product = prod.create_social_cut(shared_rec, editor, start_s=0, end_s=3)
    assert prod.cancel_product(product, editor)
    run_worker_burst(app, ("media",))  # the RQ job was cancelled: nothing runs
    db.session.expire_all()
    row = db.session.get(prod.MediaProduct, product.id)
    assert (row.status, row.started_at, row.result) == ("cancelled", None, None)
    assert not core.storage().exists(f"recordings/{shared_rec.id}/social/{product.id}.mp4")
    assert not prod.cancel_product(db.session.get(prod.MediaProduct, product.id), editor)  # nothing left to stop


def test_cancel_the_transcode_stage_then_retry(app, editor, tmp_path) -> None:
    src = make_video(tmp_path / "dai.mp4", duration=10.0, width=640, height=360)
    rec = ingest_file(src, original_filename="dai.mp4", user=editor)
    rec_id = rec.id
    run = rec.stage("transcode")
    run.status = "queued"
    db.session.commit()

    def running() -> bool:
        r = db.session.get(Recording, rec_id).stage("transcode")
        return r.status == "running" and r.percent > 0

    thread = _cancel_when_running(app, running, lambda: prod.cancel_stage(
        db.session.get(Recording, rec_id).stage("transcode"), None))
    run_stage(rec_id, "transcode", enqueue=False)
    thread.join(5)
    run = _stage(rec_id, "transcode")
    assert (run.status, run.error_code) == ("failed", "cancelled")
    assert _asset(rec_id, "hls") is None
    # The stop flag belongs to that attempt: a retry runs to the end.
    retry_stage(run, None)
    run_stage(rec_id, "transcode", enqueue=False)
    assert _stage(rec_id, "transcode").status == "done"
    assert _asset(rec_id, "hls") is not None
