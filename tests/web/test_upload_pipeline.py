"""The end-to-end path without a browser: upload through the panel, real RQ jobs on the real Redis,
real ffmpeg and Whisper, then the portal serves the clip, its playlists and its subtitles."""
from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import m3u8
import pytest

from orchestrator.db import db
from orchestrator.models import Asset, Publication, Recording, StageRun
from tests.conftest import login, run_worker_burst
from tests.media_helpers import make_audio, make_video, speech_clip


@pytest.fixture
def tech(client, make_user):
    user = make_user("technician")
    token = login(client, user)
    return user, token


def upload(client, token, path: Path, filename: str | None = None, title: str = "Báo cáo thử"):
    with open(path, "rb") as f:
        return client.post("/panel/upload", data={"file": (f, filename or path.name), "title": title,
                                                  "csrf_token": token},
                           headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"})


def stages(recording_id: int) -> dict[str, StageRun]:
    db.session.expire_all()
    return {s.stage: s for s in db.session.get(Recording, recording_id).stages}


def test_speech_video_goes_from_upload_to_portal_with_vietnamese_subtitles(client, tech, tmp_path, shared_data):
    _, token = tech
    clip = speech_clip(tmp_path / "speech.mp4", max_s=12)
    response = upload(client, token, clip, filename="Báo cáo tháng 11.mp4")
    assert response.status_code == 201, response.get_json()
    rec_id = response.get_json()["id"]
    assert stages(rec_id)["probe"].status == "done"
    assert stages(rec_id)["transcode"].status == "queued"

    run_worker_burst(client.application)

    runs = stages(rec_id)
    assert {k: v.status for k, v in runs.items()} == {
        "probe": "done", "transcode": "done", "transcribe": "done", "publish": "done"}, \
        {k: (v.error_code, v.error_detail) for k, v in runs.items()}
    assert all(r.percent == 100 for r in runs.values())
    status = client.get(f"/api/recordings/{rec_id}").get_json()
    assert status["event_status"] == "published" and status["portal_url"]

    # The portal (no login) plays it: the master playlist lists renditions that never upscale.
    anonymous = client.application.test_client()
    page = anonymous.get(status["portal_url"]).get_data(as_text=True)
    assert "Báo cáo thử" in page and 'srclang="vi"' in page
    src = re.search(r'data-src="([^"]+)"', page).group(1)
    master = m3u8.loads(anonymous.get(src).get_data(as_text=True))
    heights = sorted(p.stream_info.resolution[1] for p in master.playlists if p.stream_info.resolution)
    source_height = db.session.get(Recording, rec_id).probe["height"]
    assert heights and max(heights) <= source_height
    variant = anonymous.get(src.rsplit("/", 1)[0] + "/" + master.playlists[0].uri)
    assert variant.status_code == 200 and "#EXTINF" in variant.get_data(as_text=True)

    vtt = anonymous.get(re.search(r'<track[^>]+src="([^"]+)"', page).group(1)).get_data(as_text=True)
    assert vtt.startswith("WEBVTT")
    text = unicodedata.normalize("NFC", vtt)
    assert re.search(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", text), vtt[:400]

    # Re-running finished stages changes nothing (idempotent jobs).
    from orchestrator.pipeline import run_stage

    assets_before = db.session.execute(db.select(Asset.storage_key).filter_by(recording_id=rec_id)).scalars().all()
    for stage in ("transcode", "transcribe", "publish"):
        run_stage(rec_id, stage, enqueue=False)
    assets_after = db.session.execute(db.select(Asset.storage_key).filter_by(recording_id=rec_id)).scalars().all()
    assert sorted(assets_before) == sorted(assets_after)
    assert db.session.execute(db.select(db.func.count()).select_from(Publication)
                              .filter_by(recording_id=rec_id)).scalar() == 1


def test_audio_only_upload_gets_audio_rendition_and_subtitles(client, tech, tmp_path):
    _, token = tech
    audio = make_audio(tmp_path / "voice.m4a", duration=4.0)
    rec_id = upload(client, token, audio).get_json()["id"]
    run_worker_burst(client.application)
    runs = stages(rec_id)
    assert runs["transcode"].status == "done" and runs["transcribe"].status == "done"
    rendition = runs["transcode"].result["renditions"]
    assert [r["height"] for r in rendition] == [None]
    assert runs["publish"].status == "done"


def test_video_without_audio_is_published_without_subtitles(client, tech, tmp_path):
    _, token = tech
    video = make_video(tmp_path / "silent.mp4", duration=3.0, width=640, height=360, audio=False)
    rec_id = upload(client, token, video).get_json()["id"]
    run_worker_burst(client.application)
    runs = stages(rec_id)
    assert runs["transcode"].status == "done"
    assert runs["transcribe"].status == "skipped" and runs["transcribe"].result == {"reason": "no_audio"}
    assert runs["publish"].status == "done"


@pytest.mark.parametrize("name,content,code", [
    ("empty.mp4", b"", "empty_file"),
    ("notes.mp4", "Biên bản họp: đây là văn bản, không phải video.\n".encode() * 50, "not_media"),
])
def test_bad_files_get_a_clear_message_and_leave_nothing_behind(client, tech, name, content, code, app):
    _, token = tech
    before = db.session.execute(db.select(db.func.count()).select_from(Recording)).scalar()
    response = client.post("/panel/upload", data={"file": (io.BytesIO(content), name), "csrf_token": token},
                           headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == code and len(body["message"]) > 20
    assert db.session.execute(db.select(db.func.count()).select_from(Recording)).scalar() == before
    assert not any(Path(app.extensions["diemcau.settings"].upload_tmp_dir).iterdir())


def test_truncated_mp4_is_refused(client, tech, tmp_path):
    _, token = tech
    good = make_video(tmp_path / "good.mp4", duration=4.0, width=640, height=360)
    data = good.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 4 // 10])
    response = upload(client, token, cut)
    assert response.status_code == 400
    assert response.get_json()["error"] in {"truncated", "not_media"}


def test_upload_over_the_size_limit_is_refused_in_vietnamese(client, tech, app, monkeypatch):
    from dataclasses import replace

    _, token = tech
    # Upload routes take DIEMCAU_MAX_UPLOAD_MB (the settings), every other route MAX_CONTENT_LENGTH.
    settings = app.extensions["diemcau.settings"]
    monkeypatch.setitem(app.extensions, "diemcau.settings", replace(settings, max_upload_bytes=1024))
    response = client.post("/panel/upload", data={"file": (io.BytesIO(b"x" * 4096), "big.mp4"),
                                                  "csrf_token": token},
                           headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 413
    assert "dung lượng" in response.get_json()["message"]


def test_hostile_and_vietnamese_file_names_are_kept_for_display_but_never_used_as_paths(client, tech, tmp_path, app):
    _, token = tech
    video = make_video(tmp_path / "v.mp4", duration=2.0, width=320, height=240)
    first = upload(client, token, video, filename="../../../etc/Hội nghị tổng kết.mp4").get_json()
    second = upload(client, token, video, filename="../../../etc/Hội nghị tổng kết.mp4").get_json()
    a, b = db.session.get(Recording, first["id"]), db.session.get(Recording, second["id"])
    assert a.original_filename == "Hội nghị tổng kết.mp4"
    assert a.source_key != b.source_key and ".." not in a.source_key
    root = Path(app.extensions["diemcau.settings"].storage_url)
    assert (root / a.source_key).resolve().is_relative_to(root.resolve())
    assert (root / a.source_key).read_bytes() == (root / b.source_key).read_bytes() == video.read_bytes()


def test_failed_stage_shows_message_and_technician_can_retry(client, tech, tmp_path, app):
    from orchestrator import core

    _, token = tech
    video = make_video(tmp_path / "v.mp4", duration=2.0, width=320, height=240)
    rec_id = upload(client, token, video).get_json()["id"]
    rec = db.session.get(Recording, rec_id)
    # Damage the stored source after upload: transcode must fail with a message, not crash the worker.
    source = core.storage().local_path(rec.source_key)
    original = source.read_bytes()
    source.write_bytes(original[:2000])
    run_worker_burst(app)
    run = stages(rec_id)["transcode"]
    assert run.status == "failed" and run.error_code
    status = client.get(f"/api/recordings/{rec_id}").get_json()
    assert status["event_status"] == "failed"
    assert next(s for s in status["stages"] if s["stage"] == "transcode")["message"]
    page = client.get(f"/panel/recordings/{rec_id}").get_data(as_text=True)
    assert "Thử lại" in page

    source.write_bytes(original)
    response = client.post(f"/panel/recordings/{rec_id}/stages/transcode/retry", data={"csrf_token": token})
    assert response.status_code == 302
    run_worker_burst(app)
    assert stages(rec_id)["transcode"].status == "done"
    assert stages(rec_id)["publish"].status == "done"


def test_reconciler_reenqueues_work_a_crash_left_behind(client, tech, tmp_path, app):
    from orchestrator.reconcile import reconcile

    _, token = tech
    video = make_video(tmp_path / "v.mp4", duration=2.0, width=320, height=240)
    rec_id = upload(client, token, video).get_json()["id"]
    run = stages(rec_id)["transcode"]
    # As if the worker died: the DB says running, but RQ has no such job any more.
    run.status, run.rq_job_id = "running", "job-that-died-with-its-worker"
    db.session.commit()
    from rq import Queue

    from orchestrator.core import redis_connection

    Queue("media", connection=redis_connection()).empty()
    # (Other tests' jobs emptied from the queue above are legitimately re-enqueued too.)
    assert run.id in reconcile()["requeued"]
    assert stages(rec_id)["transcode"].status == "queued"
    run_worker_burst(app)
    assert stages(rec_id)["publish"].status == "done"


def test_reconciler_redoes_a_stage_whose_job_finished_without_committing(client, tech, tmp_path, app):
    """A job RQ calls finished while the row still says running (the commit was lost) is redone;
    a stage that did commit is left alone."""
    from rq import Queue

    from orchestrator.core import redis_connection
    from orchestrator.reconcile import reconcile

    _, token = tech
    video = make_video(tmp_path / "v.mp4", duration=2.0, width=320, height=240)
    rec_id = upload(client, token, video).get_json()["id"]
    run_worker_burst(app)
    assert stages(rec_id)["publish"].status == "done"
    transcode = stages(rec_id)["transcode"]
    assert Queue("media", connection=redis_connection()).fetch_job(transcode.rq_job_id).get_status() == "finished"
    assert transcode.id not in reconcile()["requeued"]  # finished job, done row: nothing to do

    transcode.status = "running"  # as if the worker's final commit never reached the database
    db.session.commit()
    assert transcode.id in reconcile()["requeued"]
    assert stages(rec_id)["transcode"].status == "queued"
    run_worker_burst(app)
    assert stages(rec_id)["transcode"].status == "done"


def test_speaker_cannot_see_other_peoples_recordings(client, tech, make_user, tmp_path):
    _, token = tech
    video = make_video(tmp_path / "v.mp4", duration=2.0, width=320, height=240)
    rec_id = upload(client, token, video).get_json()["id"]
    other = client.application.test_client()
    login(other, make_user("speaker"))
    assert other.get(f"/panel/recordings/{rec_id}").status_code == 404
    assert other.get(f"/api/recordings/{rec_id}").status_code == 404
