"""Measuring transcription: `diemcau eval-asr` and bench/transcribe.py.

Per file, each file is transcribed on its own in this process. Long (``--long``), the files are
joined with 0.5 s pauses into one recording that goes through the production path: VAD and
chunking, one RQ job per chunk on worker processes started here, and the merge job.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rq import Queue, Worker
from rq.job import Job, JobStatus

from transcribe import TranscribeError, Transcript
from transcribe.engine import transcribe_file
from transcribe.errors import CODES
from transcribe.evaluate import Score, join_with_pauses, read_references, score
from transcribe.glossary import apply_glossary
from transcribe.model import model_label
from transcribe.options import DecodeOptions, PlanOptions

from . import core
from .asr import enqueue, merged_key, prepare, tracks_for

PAUSE_S = 0.5


@dataclass
class FileResult:
    name: str
    reference: str
    hypothesis: str
    wer: float
    audio_s: float


@dataclass
class EvalResult:
    score: Score
    audio_s: float
    wall_s: float
    model: str
    settings: dict[str, Any]
    files: list[FileResult] = field(default_factory=list)
    hypothesis: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"wer": self.score.wer, "cer": self.score.cer, "words": self.score.words, "errors": self.score.errors,
                "audio_s": round(self.audio_s, 3), "wall_s": round(self.wall_s, 3),
                "rtf": round(self.wall_s / self.audio_s, 4) if self.audio_s else None,
                "model": self.model, "settings": self.settings}


def load_info() -> dict[str, Any]:
    """Machine load while measuring: other work on the same cores makes timings slower."""
    one, five, _ = os.getloadavg()
    return {"loadavg_1m": round(one, 2), "loadavg_5m": round(five, 2), "cpus": os.cpu_count()}


def evaluate_files(folder: Path, *, options: DecodeOptions, model: str | None, threads: int,
                   device: str = "cpu", on_file=None, glossary: list[str] | None = None,
                   correct: bool = False) -> EvalResult:
    """Transcribe every file of ``folder`` on its own and score them together.

    ``glossary`` with ``correct`` fixes near misses of its terms after decoding, as the pipeline does
    (the decoder hints, if any, are already in ``options``).
    """
    refs = read_references(folder)
    results: list[FileResult] = []
    audio_s = 0.0
    load_before = load_info()
    t0 = time.perf_counter()
    for ref in refs:
        transcript = transcribe_file(ref.path, options=options, model=model, device=device, cpu_threads=threads)
        if glossary and correct:
            transcript = apply_glossary(transcript, glossary)
        one = score([ref.text], [transcript.text])
        results.append(FileResult(ref.path.name, ref.text, transcript.text, one.wer, transcript.duration_s))
        audio_s += transcript.duration_s
        if on_file:
            on_file(results[-1])
    wall = time.perf_counter() - t0
    total = score([r.reference for r in results], [r.hypothesis for r in results])
    settings = {"mode": "per_file", "decode": options.to_dict(), "threads": threads, "device": device,
                "glossary_terms": len(glossary or []), "glossary_correction": bool(glossary and correct),
                "load_before": load_before, "load_after": load_info()}
    return EvalResult(total, audio_s, wall, model_label(model), settings, results)


# --- the chunked production path -------------------------------------------------------------

@dataclass
class LongRun:
    transcript: Transcript
    wall_s: float
    startup_s: float
    chunks: int
    chunk_seconds: float
    workers: int
    threads: int
    queue: str


def start_workers(queue: str, count: int, threads: int, model: str | None) -> list[subprocess.Popen]:
    """Burst RQ workers for ``queue`` in their own processes, each limited to ``threads`` CPU threads."""
    env = dict(os.environ)
    env["DIEMCAU_WHISPER_THREADS"] = str(threads)
    # CTranslate2 and onnxruntime (VAD) respect these: one worker must not use every core.
    env["OMP_NUM_THREADS"] = str(threads)
    if model:
        env["DIEMCAU_WHISPER_MODEL"] = str(model)
    cmd = [sys.executable, "-m", "orchestrator.asr_worker", queue]
    return [subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent) for _ in range(count)]


def _die_with_parent() -> None:
    """An interrupted evaluation must not leave its workers decoding (and skewing the next run's timings)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _wait_ready(queue: Queue, procs: list[subprocess.Popen], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(Worker.all(queue=queue)) >= len(procs):
            return
        if all(p.poll() is not None for p in procs):
            raise RuntimeError("the ASR workers exited before they started (see their output above)")
        time.sleep(0.2)
    raise RuntimeError(f"the ASR workers did not start within {timeout_s:.0f} s")


def run_long(source: Path, *, options: DecodeOptions, model: str | None, workers: int, threads: int,
             plan_options: PlanOptions | None = None, timeout_s: float = 3600.0,
             queue_name: str | None = None, glossary: list[str] | None = None) -> LongRun:
    """Transcribe ``source`` through prepare → chunk jobs → merge, with ``workers`` local workers.

    With ``workers=0`` the jobs go to the shared `asr` queue for the workers already running.
    Needs an app context (storage and Redis).
    """
    queue_name = queue_name or ("asr" if workers == 0 else f"asr-eval-{uuid.uuid4().hex[:8]}")
    queue = Queue(queue_name, connection=core.redis_connection())
    prefix = f"asr-eval/{uuid.uuid4().hex}"
    tracks = tracks_for(options.language, options, translations=[])
    procs: list[subprocess.Popen] = []
    t_start = time.perf_counter()
    try:
        if workers:
            procs = start_workers(queue_name, workers, threads, model)
            _wait_ready(queue, procs, timeout_s=120)
        startup = time.perf_counter() - t_start
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="asr-eval-") as tmp:
            spec = prepare(source, prefix, tracks, model=model, workdir=Path(tmp), plan_options=plan_options,
                           glossary=glossary)
        merge = enqueue(spec, queue_name=queue_name)
        payload = _wait_merge(merge, procs, timeout_s)
        wall = time.perf_counter() - t0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()  # warm shutdown: a worker finishes its job first
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        core.storage().delete_prefix(prefix + "/")
    if payload.get("error"):
        raise TranscribeError(payload["error"], payload.get("detail", "")) if payload["error"] in _codes() else \
            RuntimeError(f"{payload['error']}: {payload.get('detail', '')}")
    transcript = Transcript.from_dict(next(iter(payload["transcripts"].values()))) if payload["transcripts"] else \
        Transcript(options.language or "", spec.plan.duration_s, [], model_label(model), {})
    return LongRun(transcript, wall, startup, len(spec.plan.chunks), float(payload.get("chunk_seconds", 0.0)),
                   workers, threads, queue_name)


def _codes() -> frozenset[str]:
    return CODES


def _wait_merge(merge: Job, procs: list[subprocess.Popen], timeout_s: float) -> dict[str, Any]:
    import json

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = merge.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            return json.loads(core.storage().get_bytes(merged_key(merge.args[0])))
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            raise RuntimeError(f"the merge job {merge.id} {status}: {merge.latest_result()}")
        if procs and all(p.poll() is not None for p in procs):
            if merge.get_status(refresh=True) == JobStatus.FINISHED:
                continue
            raise RuntimeError("the ASR workers exited before the merge job ran")
        time.sleep(0.1)
    raise RuntimeError(f"transcription did not finish within {timeout_s:.0f} s")


def evaluate_long(folder: Path, *, options: DecodeOptions, model: str | None, workers: int, threads: int,
                  plan_options: PlanOptions | None = None, timeout_s: float = 3600.0,
                  glossary: list[str] | None = None) -> EvalResult:
    refs = read_references(folder)
    load_before = load_info()
    with tempfile.TemporaryDirectory(prefix="asr-eval-join-") as tmp:
        joined = Path(tmp) / "joined.wav"
        audio_s = join_with_pauses([r.path for r in refs], joined, PAUSE_S)
        run = run_long(joined, options=options, model=model, workers=workers, threads=threads,
                       plan_options=plan_options, timeout_s=timeout_s, glossary=glossary)
    total = score([" ".join(r.text for r in refs)], [run.transcript.text])
    settings = {"mode": "long", "decode": options.to_dict(), "plan": (plan_options or PlanOptions()).to_dict(),
                "workers": workers, "threads_per_worker": threads, "queue": run.queue, "chunks": run.chunks,
                "chunk_seconds": round(run.chunk_seconds, 3), "worker_startup_s": round(run.startup_s, 3),
                "pause_s": PAUSE_S, "glossary_terms": len(glossary or []),
                "load_before": load_before, "load_after": load_info()}
    return EvalResult(total, audio_s, run.wall_s, model_label(model), settings, hypothesis=run.transcript.text)


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None
