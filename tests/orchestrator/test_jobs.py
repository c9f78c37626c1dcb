"""The registry of RQ entry points (orchestrator.runtime.job): every job declared once with its queue,
timeout, retry and TTLs; enqueued by naming the function; run by a real worker in the core app context;
and jobs queued by the previous release under their old dotted names still run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rq import Queue, SimpleWorker
from rq.job import Job

import orchestrator.asr
import orchestrator.pipeline
import orchestrator.products
import orchestrator.publishing.service
import web.invitation_sheet  # noqa: F401 (declares the panel's sheet job)
from groundwork.config import load_settings
from orchestrator import runtime
from orchestrator.core import redis_connection
from orchestrator.db import db
from orchestrator.models import StageRun, StageStatus
from orchestrator.pipeline import STAGES, ingest_file
from orchestrator.products import run_product_job
from tests.conftest import REPO_ROOT
from tests.media_helpers import make_video

TEST_QUEUE = "registry-test"  # a queue no other test's worker listens to
EVERY_JOB = {
    "orchestrator.pipeline.run_stage_job", "orchestrator.products.run_product_job", "orchestrator.asr.run_chunk",
    "orchestrator.asr.run_merge", "orchestrator.publishing.service.publish_job",
    "orchestrator.publishing.service.unpublish_job", "web.invitation_sheet.make_sheet",
}



def _worker_env(test_env: dict[str, str]) -> dict[str, str]:
    """The worker imports this package's probe jobs: the repository root goes on its path (the installed
    package knows only the product's packages)."""
    return {**os.environ, **test_env, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}

def test_every_registered_job_runs_on_a_queue_the_workers_listen_to():
    queues = set(load_settings().queues)
    assert set(runtime.JOBS) >= EVERY_JOB
    for spec in runtime.JOBS.values():
        assert spec.queue in queues, f"{spec.name} is declared on {spec.queue!r}, which no worker listens to"
        assert spec.job_timeout(3600.0) > 180, f"{spec.name} would get RQ's 180 s default"
    # The stage job goes to the queue of its stage's resource.
    assert {stage.queue for stage in STAGES} <= queues


def test_a_job_enqueued_by_its_function_runs_in_a_worker_with_the_declared_options(app, test_env):
    conn = redis_connection()
    Queue(TEST_QUEUE, connection=conn).empty()
    queued = runtime.enqueue(run_product_job, 987654, queue_name=TEST_QUEUE, duration_s=1000.0,
                             description="no such product")
    assert queued.func_name == "orchestrator.products.run_product_job"
    assert queued.timeout == 6000  # declared: 6 × the duration, at least 900 s
    assert (queued.result_ttl, queued.failure_ttl) == (24 * 3600, 7 * 24 * 3600)
    # A forking worker outside any app context: the job makes the core app itself.
    subprocess.run([str(Path(sys.executable).with_name("diemcau")), "worker", "--burst", "--no-scheduler",
                    TEST_QUEUE], cwd=REPO_ROOT, env=_worker_env(test_env), check=True, timeout=120,
                   capture_output=True)
    done = Job.fetch(queued.id, connection=conn)
    assert done.get_status() == "finished", done.exc_info
    assert done.return_value() == {"product": 987654, "status": "missing"}


def test_a_worker_process_connects_the_pipeline_to_the_signal_the_merge_job_sends(app, test_env):
    """The transcribe stage's merge job (orchestrator.asr) imports no pipeline; the worker command does, so
    the stage_finished signal it sends enqueues the next stage."""
    from tests.orchestrator import jobs_probe

    conn = redis_connection()
    Queue(TEST_QUEUE, connection=conn).empty()
    queued = runtime.enqueue(jobs_probe.stage_finished_receivers, queue_name=TEST_QUEUE)
    subprocess.run([str(Path(sys.executable).with_name("diemcau")), "worker", "--burst", "--no-scheduler",
                    TEST_QUEUE], cwd=REPO_ROOT, env=_worker_env(test_env), check=True, timeout=120,
                   capture_output=True)
    done = Job.fetch(queued.id, connection=conn)
    assert done.get_status() == "finished", done.exc_info
    assert "orchestrator.pipeline._stage_finished_elsewhere" in done.return_value()


def test_the_declared_retry_reaches_the_queued_job(app):
    queued = runtime.enqueue(orchestrator.asr.run_merge, "asr/none", queue_name=TEST_QUEUE, duration_s=36000.0)
    try:
        assert queued.timeout == 3600
        assert queued.retries_left == len(orchestrator.asr.CHUNK_RETRY)
        assert queued.retry_intervals == list(orchestrator.asr.CHUNK_RETRY)
    finally:
        queued.delete()


def test_jobs_queued_under_the_old_dotted_names_still_run(app, tmp_path):
    recording = ingest_file(make_video(tmp_path / "old.mp4", duration=1.0, width=160, height=90),
                            original_filename="old.mp4")
    db.session.execute(db.update(StageRun).where(StageRun.recording_id == recording.id)
                       .values(status=StageStatus.DONE.value))  # nothing left to enqueue after the probe
    db.session.commit()
    conn = redis_connection()
    q = Queue(TEST_QUEUE, connection=conn)
    q.empty()
    stage = q.enqueue("orchestrator.jobs.run_stage", recording.id, "probe")
    publish = q.enqueue("orchestrator.publishing.jobs.publish_job", 987654)
    SimpleWorker([q], connection=conn).work(burst=True, with_scheduler=False)
    for queued in (stage, publish):
        assert Job.fetch(queued.id, connection=conn).get_status() == "finished", queued.exc_info
    assert stage.return_value()["stage"] == "probe" and stage.return_value()["status"] == "done"
    assert publish.return_value() == {"status": "gone"}


def test_enqueuing_an_undeclared_function_is_refused():
    def stray(x):
        return x

    try:
        runtime.enqueue(stray, 1)
    except TypeError as exc:
        assert "not declared" in str(exc)
    else:
        raise AssertionError("an undeclared function was enqueued")
