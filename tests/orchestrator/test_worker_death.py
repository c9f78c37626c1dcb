"""A worker SIGKILLed in the middle of a transcode: its work horse and ffmpeg die with it, the
reconciler notices the silent heartbeat (not RQ's 16-minute key expiry) and enqueues the stage again
exactly once, and the abandoned job, even if RQ retried it, does not run the stage a second time."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from orchestrator.core import redis_connection
from orchestrator.db import db
from orchestrator.models import StageRun
from orchestrator.pipeline import enqueue_next, ingest_file
from orchestrator.workers import DEAD_AFTER_S
from tests.conftest import REPO_ROOT, run_worker_burst
from tests.media_helpers import make_video


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stage(run_id: int) -> StageRun:
    db.session.expire_all()
    return db.session.get(StageRun, run_id)


@pytest.fixture
def media_worker(test_env):
    conn = redis_connection()
    Queue("media", connection=conn).empty()  # earlier tests' leftovers are not this test's work
    proc = subprocess.Popen([str(Path(sys.executable).with_name("diemcau")), "worker", "--no-scheduler", "media"],
                            cwd=REPO_ROOT, env={**os.environ, **test_env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_a_killed_worker_is_noticed_by_heartbeat_and_its_stage_runs_again_once(app, media_worker, tmp_path):
    from orchestrator.reconcile import reconcile

    clip = make_video(tmp_path / "long.mp4", duration=40.0, width=640, height=360)
    recording = ingest_file(clip, original_filename="long.mp4", title="Worker death")
    transcode = enqueue_next(recording.id)
    assert transcode.stage == "transcode"
    first_job_id = transcode.rq_job_id

    _wait(lambda: _stage(transcode.id).status == "running" and _stage(transcode.id).percent > 1, 120,
          "the transcode to be under way")
    worker = psutil.Process(media_worker.pid)
    _wait(lambda: [p for p in worker.children(recursive=True) if p.name() == "ffmpeg"], 30, "ffmpeg to run")
    tree = worker.children(recursive=True)  # the work horse and its ffmpeg
    assert any(p.name() == "ffmpeg" for p in tree)
    os.kill(media_worker.pid, signal.SIGKILL)
    media_worker.wait(10)
    gone, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive, f"outlived their worker: {[(p.pid, p.name()) for p in alive]}"

    # Its last heartbeat is seconds old: not dead yet, nothing is enqueued twice.
    assert transcode.id not in reconcile()["requeued"]
    assert _stage(transcode.id).status == "running"

    # DEAD_AFTER_S later (the heartbeat moved back instead of waiting), the stage is enqueued again.
    conn = redis_connection()
    job = Job.fetch(first_job_id, connection=conn)
    stale = (datetime.now(UTC) - timedelta(seconds=DEAD_AFTER_S + 1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    conn.hset(f"rq:worker:{job.worker_name}", "last_heartbeat", stale)
    assert reconcile()["requeued"] == [transcode.id]
    again = _stage(transcode.id)
    assert again.status == "queued" and again.rq_job_id != first_job_id
    assert reconcile()["requeued"] == []  # once
    job = Job.fetch(first_job_id, connection=conn)
    assert job.get_status() == "failed"
    assert first_job_id not in StartedJobRegistry("media", connection=conn).get_job_ids()

    # Even if RQ ran the abandoned job once more, it would not run the stage beside its successor.
    Queue("media", connection=conn).enqueue_job(job)
    run_worker_burst(app, queues=("media",))
    done = _stage(transcode.id)
    assert done.status == "done"
    assert done.attempts == 2  # the cut-off attempt and exactly one more


def test_an_in_process_worker_keeps_sending_heartbeats_during_a_long_job(app, test_env):
    """The ASR worker runs jobs in its own process: it must still show it is alive while Whisper works,
    or the reconciler would take it for dead, and a killed one must be noticed within a minute."""
    from rq.registry import StartedJobRegistry

    conn = redis_connection()
    queue = Queue("heartbeat-check", connection=conn)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("diemcau")), "worker", "--in-process",
                             "--no-scheduler", "heartbeat-check"], cwd=REPO_ROOT, env={**os.environ, **test_env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        job = queue.enqueue("time.sleep", 9, job_timeout=600)
        _wait(lambda: job.get_status(refresh=True) == "started", 60, "the job to start")
        time.sleep(7)
        job.refresh()
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=conn)
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
        beat = worker.last_heartbeat if worker.last_heartbeat.tzinfo else worker.last_heartbeat.replace(tzinfo=UTC)
        assert beat > started + timedelta(seconds=2), "no heartbeat while the job runs"
        # Its started-registry entry runs out a minute after the last heartbeat, not after the 600 s timeout.
        registry = StartedJobRegistry("heartbeat-check", connection=conn)
        expiry = max(score for _, score in conn.zrange(registry.key, 0, -1, withscores=True))
        assert expiry < time.time() + 70
        _wait(lambda: job.get_status(refresh=True) == "finished", 30, "the job to finish")
    finally:
        proc.terminate()
        proc.wait(20)
