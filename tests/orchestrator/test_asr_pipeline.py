"""Long recordings through the pipeline: chunk jobs and a merge job on the real Redis, real Whisper.

The threshold for the chunked path is lowered to 0 s here so short real clips take it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from rq import Queue

from orchestrator import asr, core
from orchestrator.db import db
from orchestrator.models import Recording, StageRun, TranscriptCue
from orchestrator.models import Transcript as TranscriptRow
from orchestrator.pipeline import ingest_file, submit_file
from tests.conftest import login, run_worker_burst
from tests.media_helpers import ffmpeg, make_audio, speech_clip, speech_wavs, wav_duration
from transcribe.evaluate import read_references, score
from transcribe.options import DecodeOptions, PlanOptions


@pytest.fixture
def chunked(monkeypatch):
    monkeypatch.setenv(asr.CHUNKED_ABOVE_ENV, "0")


def _process(app, path, user, filename: str, title: str, **kwargs) -> int:
    """Upload a file as `user` and run every stage on a burst worker; the recording's id."""
    with app.app_context():
        rec_id = submit_file(path, original_filename=filename, title=title, user=user, **kwargs).id
    run_worker_burst(app)
    return rec_id


def _refresh(recording_id: int) -> dict[str, StageRun]:
    db.session.expire_all()
    return {s.stage: s for s in db.session.get(Recording, recording_id).stages}


def test_long_recording_goes_through_chunk_jobs_and_merge(app, make_user, tmp_path, shared_data, chunked):
    clip = speech_clip(tmp_path / "speech.mp4", max_s=30)
    user = make_user("technician")
    rec_id = _process(app, clip, user, "hội nghị.mp4", "Hội nghị dài")

    runs = _refresh(rec_id)
    run = runs["transcribe"]
    assert run.status == "done", (run.error_code, run.error_detail)
    assert runs["publish"].status == "done"  # the merge job carried the pipeline on
    assert run.result["mode"] == "chunked" and run.result["chunks"] >= 2 and run.percent == 100
    assert run.rq_job_id.startswith("asr-merge-")
    finished = Queue("asr", connection=core.redis_connection()).finished_job_registry.get_job_ids()
    assert run.rq_job_id in finished

    query = db.select(TranscriptRow).filter_by(recording_id=rec_id)
    rows = {r.language: r for r in db.session.execute(query).scalars()}
    assert set(rows) == {"vi", "en"}  # Vietnamese and the English track
    vi = rows["vi"]
    assert vi.version == 1 and vi.source == "automatic" and vi.cues
    # The merged text is the speech of the clip: scored against the references of the files used.
    refs = {r.path.name: r.text for r in read_references(shared_data / "speech_vi")}
    spoken, total = [], 0.0
    for wav in speech_wavs():
        if total >= 30:
            break
        spoken.append(refs[wav.name])
        total += wav_duration(wav)
    assert score([" ".join(spoken)], [vi.text]).wer < 0.45, vi.text
    # Exact times: words are in order, inside the recording, and cues do not overlap.
    words = [w for seg in vi.data["segments"] for w in seg["words"]]
    assert words and all(a["end"] <= b["start"] + 1e-3 for a, b in zip(words, words[1:], strict=False))
    assert words[0]["start"] >= 0 and words[-1]["end"] <= vi.data["duration_s"] + 1e-3
    assert words[-1]["end"] > 20  # the last chunk's words sit at their place in the recording
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(vi.cues, vi.cues[1:], strict=False))
    assert any("words" in c for c in vi.cues)  # per-word confidence kept for the editor
    assert rows["en"].text and rows["en"].text != vi.text

    recording = db.session.get(Recording, rec_id)
    for language in ("vi", "en"):
        vtt = core.storage().get_bytes(recording.asset("subtitles_vtt", language).storage_key).decode()
        assert vtt.startswith("WEBVTT")
        assert core.storage().exists(recording.asset("subtitles_srt", language).storage_key)
    indexed = db.session.execute(db.select(TranscriptCue).filter_by(recording_id=rec_id, language="vi")).scalars()
    assert len(list(indexed)) == len(vi.cues)
    # Chunk audio and results are removed once merged.
    assert core.storage().list(f"recordings/{rec_id}/asr/") == []
    # The recording page links to the editor.
    client = app.test_client()
    login(client, user)
    page = client.get(f"/panel/recordings/{rec_id}").get_data(as_text=True)
    assert f'href="/panel/recordings/{rec_id}/transcript"' in page


def _silent_video(path: Path, seconds: int) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=320x240:rate=10:duration={seconds}", "-f", "lavfi", "-i",
           f"anullsrc=r=48000:cl=stereo:d={seconds}", "-map", "0:v", "-map", "1:a", "-c:v", "libx264",
           "-preset", "ultrafast", "-c:a", "aac", "-t", str(seconds), str(path))
    return path


def test_recording_without_speech_is_an_empty_success(app, make_user, tmp_path, chunked):
    clip = _silent_video(tmp_path / "silence.mp4", 20)
    rec_id = _process(app, clip, make_user("editor"), "silence.mp4", "Im lặng")
    runs = _refresh(rec_id)
    assert runs["transcribe"].status == "done", runs["transcribe"].error_detail
    assert runs["transcribe"].result["chunks"] == 0
    row = db.session.execute(db.select(TranscriptRow).filter_by(recording_id=rec_id, language="vi")).scalar_one()
    assert row.text == "" and row.cues == []
    asset = db.session.get(Recording, rec_id).asset("subtitles_vtt", "vi")
    assert core.storage().get_bytes(asset.storage_key).decode().startswith("WEBVTT")


def _short_speech(tmp_path: Path) -> Path:
    return make_audio(tmp_path / "speech.m4a", duration=14, speech=True)


def _spec(app, source: Path, tmp_path: Path, *, model=None, recording_id=None) -> asr.Spec:
    options = DecodeOptions(language="vi")
    tracks = asr.tracks_for("vi", options, translations=[])
    prefix = f"test-asr/{tmp_path.name}"
    return asr.prepare(source, prefix, tracks, model=model, workdir=tmp_path, recording_id=recording_id,
                       plan_options=PlanOptions(min_chunk_s=5.0, max_chunk_s=8.0))


def test_a_damaged_chunk_fails_the_stage_with_a_clear_code(app, make_user, tmp_path, shared_data):
    source = _short_speech(tmp_path)
    with app.app_context():
        recording = ingest_file(source, original_filename="speech.m4a", user=make_user("technician"))
        spec = _spec(app, source, tmp_path, recording_id=recording.id)
        assert len(spec.plan.chunks) >= 2
        run = recording.stage("transcribe")
        run.status, run.result = "running", {"asr_prefix": spec.prefix}
        for other in ("transcode", "publish"):  # not part of this test: nothing left pending for the reconciler
            recording.stage(other).status = "skipped"
        db.session.commit()
        # One chunk's audio is damaged in storage: its job records the error, the others still run.
        core.storage().put_bytes(asr.chunk_key(spec.prefix, 0), b"RIFF garbage, not a wav file")
        asr.enqueue(spec)
        rec_id = recording.id
    run_worker_burst(app, ["asr"])
    runs = _refresh(rec_id)
    assert runs["transcribe"].status == "failed"
    assert runs["transcribe"].error_code == "audio_unreadable"
    assert db.session.get(Recording, rec_id).event.status == "failed"
    store = core.storage()
    others = [store.get_bytes(asr.result_key(spec.prefix, 0, c.index)) for c in spec.plan.chunks[1:]]
    assert all("transcript" in json.loads(o) for o in others)


def test_a_missing_model_is_reported_not_retried(app, tmp_path, shared_data):
    source = _short_speech(tmp_path)
    with app.app_context():
        spec = _spec(app, source, tmp_path, model=str(tmp_path / "no-such-model"))
        merge = asr.enqueue(spec)
    run_worker_burst(app, ["asr"])
    with app.app_context():
        assert merge.get_status(refresh=True) == "finished"
        merged = json.loads(core.storage().get_bytes(asr.merged_key(spec.prefix)))
    assert merged["error"] == "model_missing" and "no-such-model" in merged["detail"]


def test_a_worker_killed_mid_chunk_loses_no_other_job(app, tmp_path, shared_data):
    """SIGKILL a worker while it decodes a chunk: the other chunks stay queued and are done by another
    worker; once RQ declares the killed job abandoned it is retried, and the merge completes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from rq.registry import StartedJobRegistry
    from rq.scheduler import RQScheduler

    source = _short_speech(tmp_path)
    queue_name = f"asr-crash-{tmp_path.name[-8:]}"
    with app.app_context():
        spec = _spec(app, source, tmp_path)
        merge = asr.enqueue(spec, queue_name=queue_name)
        queue = Queue(queue_name, connection=core.redis_connection())
        registry = StartedJobRegistry(queue=queue)
        worker = subprocess.Popen([sys.executable, "-m", "orchestrator.asr_worker", queue_name],
                                  env={**os.environ, "DIEMCAU_WHISPER_THREADS": "1"})
        try:
            deadline = time.monotonic() + 120
            while not registry.get_job_ids() and time.monotonic() < deadline:
                time.sleep(0.05)
            started = registry.get_job_ids()
            assert started, "the worker never started a chunk"
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        waiting = len(queue.get_job_ids())
        assert waiting >= 1  # the rest of the chunks are still queued
    run_worker_burst(app, [queue_name])
    with app.app_context():
        assert merge.get_status(refresh=True) == "deferred"  # still waiting for the killed chunk
        # RQ's maintenance finds the job whose worker died (here: as if its heartbeat had expired) and
        # schedules its retry; RQ's scheduler enqueues it when the retry interval has passed.
        registry.cleanup(timestamp=time.time() + 10_000)
        assert started[0] in queue.scheduled_job_registry.get_job_ids()
        time.sleep(asr.CHUNK_RETRY[0] + 1)
        scheduler = RQScheduler([queue], connection=core.redis_connection())
        scheduler.acquire_locks()
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()
    run_worker_burst(app, [queue_name])
    with app.app_context():
        assert merge.get_status(refresh=True) == "finished"
        merged = json.loads(core.storage().get_bytes(asr.merged_key(spec.prefix)))
    assert merged["error"] is None and merged["transcripts"]["vi"]["segments"]


def test_language_detected_only_when_the_event_asks(app, make_user, tmp_path, shared_data, monkeypatch):
    """An event set to "auto" has its language detected once from the recording (English speech →
    "en") and keeps it; the transcript is English, with no second English track made by translation."""
    from orchestrator.models import Event

    monkeypatch.setenv(asr.TRANSLATIONS_ENV, "en")
    wavs = sorted((shared_data / "speech_en" / "ljspeech").glob("*.wav"))[:2]
    if not wavs:
        pytest.skip("speech_en missing from shared data")
    joined = tmp_path / "english.wav"
    ffmpeg(*[a for w in wavs for a in ("-i", str(w))], "-filter_complex",
           "".join(f"[{i}:a]" for i in range(len(wavs))) + f"concat=n={len(wavs)}:v=0:a=1", str(joined))
    rec_id = _process(app, joined, make_user("technician"), "talk.wav", "Detect me", language="auto")
    event_id = db.session.get(Recording, rec_id).event_id

    run = _refresh(rec_id)["transcribe"]
    assert run.status == "done", (run.error_code, run.error_detail)
    assert run.result["language_detected"] == "en" and run.result["language_probability"] > 0.5
    assert db.session.get(Event, event_id).language == "en"
    rows = {r.language: r for r in db.session.execute(db.select(TranscriptRow).filter_by(recording_id=rec_id))
            .scalars()}
    assert set(rows) == {"en"}
    text = " ".join(c.text for c in db.session.execute(
        db.select(TranscriptCue).filter_by(recording_id=rec_id, language="en")).scalars()).lower()
    assert "the" in text.split()  # English words, not a Vietnamese guess


def test_vietnamese_event_is_not_detected(app, make_user, tmp_path, shared_data):
    """A named language is used as given: no detection result is recorded."""
    clip = speech_clip(tmp_path / "speech.mp4", max_s=8)
    rec_id = _process(app, clip, make_user("technician"), "vi.mp4", "Tiếng Việt")
    run = _refresh(rec_id)["transcribe"]
    assert run.status == "done" and "language_detected" not in run.result
