"""Chunked, parallel transcription of long recordings as RQ jobs on the `asr` queue.

A long recording is decoded once and cut at silences into chunks (transcribe.chunking); each chunk
is stored as a small WAV and transcribed by its own RQ job, with its own timeout and retries, on
whichever `asr` worker is free, so N workers on N machines share one recording. A merge job, which
depends on every chunk job (and runs even when one failed), joins the chunk transcripts with their
exact times and finishes the pipeline stage. Everything lives under one storage prefix:

    <prefix>/spec.json                what to do: model, tracks (languages), the chunk plan
    <prefix>/chunks/00003.wav         chunk audio, 16 kHz mono
    <prefix>/results/0-00003.json     the transcript of chunk 3 for track 0 (or its error)
    <prefix>/merged.json              merged transcripts (evaluation runs; the pipeline writes rows)

Every step is idempotent: a chunk whose result exists is not decoded again, and the prefix of a
recording is derived from its checksum and the settings, so a re-run reuses finished chunks.
A recording (or chunk) without speech is a success with an empty transcript.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rq import get_current_job
from rq.job import Dependency, Job

from groundwork.config import options
from transcribe import TranscribeError, Transcript, build_cues, write_srt, write_vtt
from transcribe.chunking import Chunk, ChunkPlan, prepare_chunks, read_wav
from transcribe.engine import detect_language, transcribe_audio, transcribe_file
from transcribe.errors import CODES
from transcribe.glossary import apply_glossary, corrects, decoder_hints
from transcribe.model import model_label
from transcribe.options import DecodeOptions, PlanOptions
from transcribe.transcript import merge_transcripts
from transcribe.translate import Translator, translator_for

from . import core, runtime
from .db import db
from .glossary import terms_for
from .models import EventStatus, Recording, StageRun, StageStatus
from .runtime import StageOutcome, now, stage_finished
from .transcripts import store_automatic

log = logging.getLogger(__name__)

QUEUE = "asr"
# Recordings at least this long are transcribed as chunk jobs; shorter ones in the stage job itself.
CHUNKED_ABOVE_ENV = "DIEMCAU_ASR_CHUNKED_ABOVE_S"
# An event whose language is "auto" has it detected from the recording (the editor asked for it).
AUTO_LANGUAGE = "auto"
# Subtitle tracks translated from the spoken language ("" for none): Whisper's translate task.
TRANSLATIONS_ENV = "DIEMCAU_SUBTITLE_TRANSLATIONS"
CHUNK_RETRY = (10, 60)  # seconds before each retry
PLAN_SHARE = 10.0  # percent of the stage's progress bar spent decoding and cutting the audio
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 7 * 24 * 3600


# --- what to produce ---------------------------------------------------------------------------

@dataclass
class Track:
    """One output transcript: the spoken language, or a translation of it."""
    language: str
    options: dict[str, Any]  # DecodeOptions.to_dict()
    engine: str = ""  # the Translator of a translated track (transcribe.translate)
    from_text: bool = False  # translated from the merged transcript, not decoded from the chunks

    @property
    def decode(self) -> DecodeOptions:
        return DecodeOptions.from_dict(self.options)

    @property
    def translator(self) -> Translator:
        return translator_for(f"{self.language}:{self.engine}")


@dataclass
class Spec:
    prefix: str
    model: str | None
    tracks: list[Track]
    plan: ChunkPlan
    recording_id: int | None = None
    created: float = field(default_factory=time.time)
    glossary: list[str] = field(default_factory=list)  # terms whose near misses the merge corrects

    def to_json(self) -> str:
        return json.dumps({"prefix": self.prefix, "model": self.model, "recording_id": self.recording_id,
                           "created": self.created, "tracks": [asdict(t) for t in self.tracks],
                           "plan": self.plan.to_dict(), "glossary": self.glossary}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Spec:
        data = json.loads(text)
        return cls(prefix=data["prefix"], model=data.get("model"), recording_id=data.get("recording_id"),
                   created=float(data.get("created", 0.0)), tracks=[Track(**t) for t in data["tracks"]],
                   plan=ChunkPlan.from_dict(data["plan"]), glossary=list(data.get("glossary") or []))

    @property
    def total_jobs(self) -> int:
        return sum(1 for t in self.tracks if not t.from_text) * len(self.plan.chunks)


def spec_key(prefix: str) -> str:
    return f"{prefix}/spec.json"


def chunk_key(prefix: str, index: int) -> str:
    return f"{prefix}/chunks/{index:05d}.wav"


def result_key(prefix: str, track: int, index: int) -> str:
    return f"{prefix}/results/{track}-{index:05d}.json"


def merged_key(prefix: str) -> str:
    return f"{prefix}/merged.json"


def chunked_above_s() -> float:
    return options().asr_chunked_above_s


def translation_targets(language: str) -> list[str]:
    """Targets from DIEMCAU_SUBTITLE_TRANSLATIONS ("en", "en:whisper", ...), minus the spoken language."""
    raw = options().subtitle_translations
    specs = [t.strip() for t in raw.split(",") if t.strip()]
    return [t for t in specs if t.partition(":")[0] != language]


def tracks_for(language: str | None, base: DecodeOptions, translations: list[str] | None = None) -> list[Track]:
    tracks = [Track(language or "", base.with_(language=language, task="transcribe").to_dict())]
    for spec in translations if translations is not None else translation_targets(language or ""):
        try:
            translator = translator_for(spec)
        except ValueError as exc:
            log.warning("subtitle translation %r skipped: %s", spec, exc)
            continue
        options = translator.decode_options(base.with_(language=language)) if translator.needs_audio else base
        tracks.append(Track(translator.target, options.to_dict(), engine=translator.name,
                            from_text=not translator.needs_audio))
    return tracks


# --- preparing and enqueuing -------------------------------------------------------------------

def prepare(source: Path, prefix: str, tracks: list[Track], *, model: str | None, workdir: Path,
            recording_id: int | None = None, plan_options: PlanOptions | None = None,
            progress: Callable[[float], None] | None = None, duration_hint: float | None = None,
            glossary: list[str] | None = None) -> Spec:
    """Decode, cut and store the chunks of ``source`` under ``prefix``; reuses a finished earlier plan."""
    store = core.storage()
    if store.exists(spec_key(prefix)):
        spec = Spec.from_json(store.get_bytes(spec_key(prefix)))
        if all(store.exists(chunk_key(prefix, c.index)) for c in spec.plan.chunks):
            return spec

    def upload(chunk: Chunk, path: Path) -> None:
        store.put_file(chunk_key(prefix, chunk.index), path, "audio/wav")

    plan, _ = prepare_chunks(source, workdir / "asr-chunks", plan_options, progress, duration_hint, emit=upload)
    spec = Spec(prefix=prefix, model=model, tracks=tracks, plan=plan, recording_id=recording_id,
                glossary=list(glossary or []))
    store.put_bytes(spec_key(prefix), spec.to_json().encode("utf-8"), "application/json")  # last: marks it complete
    return spec


def chunk_timeout(duration_s: float) -> int:
    # A one-thread CPU worker decodes the base model at ~0.1-0.3x real time; large models are slower.
    return int(max(300, 20 * duration_s))


def enqueue(spec: Spec, *, merge_job_id: str | None = None, queue_name: str = QUEUE) -> Job:
    """One job per chunk and track, then the merge job that depends on all of them."""
    queue = runtime.queue(queue_name)
    jobs = []
    with queue.connection.pipeline() as pipe:
        data = []
        for t, track in enumerate(spec.tracks):
            if track.from_text:
                continue  # made from the merged transcript by the merge job
            for chunk in spec.plan.chunks:
                data.append(runtime.prepare_data(
                    run_chunk, (spec.prefix, t, chunk.index), duration_s=chunk.duration,
                    description=f"asr {track.language} chunk {chunk.index + 1}/{len(spec.plan.chunks)} "
                                f"({chunk.start:.1f}-{chunk.end:.1f} s) {spec.prefix}",
                    meta={"asr_prefix": spec.prefix, "track": t, "chunk": chunk.index}))
        if data:
            jobs = queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()
    depends = Dependency(jobs=jobs, allow_failure=True) if jobs else None
    return runtime.enqueue(run_merge, spec.prefix, queue_name=queue_name, duration_s=spec.plan.duration_s,
                           job_id=merge_job_id, depends_on=depends,
                           description=f"asr merge {len(spec.plan.chunks)} chunks {spec.prefix}",
                           meta={"asr_prefix": spec.prefix})


# --- the jobs ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def load_spec(prefix: str) -> Spec:
    """The spec of a prefix (cached: chunk jobs of one recording read it many times; it never changes)."""
    return Spec.from_json(core.storage().get_bytes(spec_key(prefix)))


@runtime.job(QUEUE, timeout=chunk_timeout, retry=CHUNK_RETRY, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S)
def run_chunk(prefix: str, track_index: int, chunk_index: int) -> dict[str, Any]:
    """RQ job: transcribe one chunk for one track. Bad input is recorded as the chunk's result, not retried."""
    spec = load_spec(prefix)
    store = core.storage()
    key = result_key(prefix, track_index, chunk_index)
    # A finished chunk is not decoded again; a recorded error is (the model may have been fixed since).
    if store.exists(key) and not json.loads(store.get_bytes(key)).get("error"):
        return {"chunk": chunk_index, "cached": True}
    chunk = spec.plan.chunks[chunk_index]
    track = spec.tracks[track_index]
    settings = core.settings()
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="asr-chunk-") as tmp:
            wav = store.download(chunk_key(prefix, chunk_index), Path(tmp) / "chunk.wav")
            audio = read_wav(wav)
        transcript = transcribe_audio(audio, track.decode, model=spec.model, device=settings.whisper_device,
                                      cpu_threads=settings.whisper_threads, replicas=settings.whisper_replicas,
                                      offset=chunk.start)
        payload: dict[str, Any] = {"transcript": transcript.to_dict()}
    except TranscribeError as exc:
        payload = {"error": exc.code, "detail": exc.detail}
    payload["seconds"] = round(time.perf_counter() - t0, 3)
    payload["worker_pid"] = os.getpid()
    store.put_bytes(key, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json")
    _count_progress(spec)
    return {"chunk": chunk_index, "track": track_index, "error": payload.get("error"),
            "seconds": payload["seconds"]}


def _count_progress(spec: Spec) -> None:
    conn = core.redis_connection()
    counter = f"diemcau:asr:{spec.prefix}:done"
    done = conn.incr(counter)
    conn.expire(counter, RESULT_TTL_S)
    percent = PLAN_SHARE + (99.0 - PLAN_SHARE) * min(1.0, done / max(1, spec.total_jobs))
    if spec.recording_id is not None:
        db.session.execute(db.update(StageRun).where(
            StageRun.recording_id == spec.recording_id, StageRun.stage == "transcribe",
            StageRun.status == StageStatus.RUNNING.value, StageRun.percent < percent).values(percent=percent))
        db.session.commit()
    job = get_current_job()
    if job is not None:
        job.meta.update(percent=round(percent, 1))
        job.save_meta()


@dataclass
class Merged:
    transcripts: dict[str, Transcript]
    error: str | None = None
    detail: str = ""
    chunk_seconds: float = 0.0


def collect(spec: Spec) -> Merged:
    """Join the chunk results of every track; the first missing or failed chunk makes it an error."""
    store = core.storage()
    transcripts: dict[str, Transcript] = {}
    busy = 0.0
    for t, track in enumerate(spec.tracks):
        if track.from_text:
            source = transcripts.get(spec.tracks[0].language)
            if source is not None:
                transcripts[track.language] = track.translator.translate_transcript(source)
            continue
        parts = []
        for chunk in spec.plan.chunks:
            key = result_key(spec.prefix, t, chunk.index)
            if not store.exists(key):
                return Merged({}, "internal", f"chunk {chunk.index + 1}/{len(spec.plan.chunks)} "
                                                      f"({chunk.start:.1f}-{chunk.end:.1f} s) has no result")
            payload = json.loads(store.get_bytes(key))
            busy += float(payload.get("seconds", 0.0))
            if payload.get("error"):
                return Merged({}, payload["error"], payload.get("detail", ""))
            parts.append(Transcript.from_dict(payload["transcript"]))
        settings = dict(parts[0].settings) if parts else dict(track.options)
        settings.update(chunks=len(spec.plan.chunks), speech_s=spec.plan.speech_s, plan=spec.plan.options)
        merged = merge_transcripts(parts, spec.plan.duration_s, language=track.language,
                                   model=model_label(spec.model), settings=settings)
        if t == 0 and spec.glossary and corrects():
            merged = apply_glossary(merged, spec.glossary)
        transcripts[track.language] = merged
    return Merged(transcripts, chunk_seconds=round(busy, 3))


@runtime.job(QUEUE, timeout=lambda duration_s: int(max(600, duration_s / 10)), retry=CHUNK_RETRY,
             result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S)
def run_merge(prefix: str) -> dict[str, Any]:
    """RQ job: merge the chunks; finishes the pipeline stage of a recording, or stores merged.json."""
    spec = Spec.from_json(core.storage().get_bytes(spec_key(prefix)))
    merged = collect(spec)
    if spec.recording_id is not None:
        return _finish_stage(spec, merged)
    payload = {"error": merged.error, "detail": merged.detail, "chunk_seconds": merged.chunk_seconds,
               "chunks": len(spec.plan.chunks), "duration_s": spec.plan.duration_s,
               "transcripts": {lang: tr.to_dict() for lang, tr in merged.transcripts.items()}}
    core.storage().put_bytes(merged_key(prefix), json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                             "application/json")
    return {"merged": merged_key(prefix), "error": merged.error}


# --- the pipeline stage ------------------------------------------------------------------------

def _stage_run(recording_id: int, prefix: str) -> StageRun | None:
    run = db.session.execute(db.select(StageRun).filter_by(recording_id=recording_id, stage="transcribe")
                             ).scalar_one_or_none()
    if run is None or run.status != StageStatus.RUNNING.value or (run.result or {}).get("asr_prefix") != prefix:
        return None  # finished, failed or re-planned meanwhile: this merge is stale
    return run


def _finish_stage(spec: Spec, merged: Merged) -> dict[str, Any]:
    run = _stage_run(spec.recording_id, spec.prefix)
    if run is None:
        return {"stale": True}
    if merged.error:
        run.status, run.error_code, run.error_detail = StageStatus.FAILED.value, merged.error, merged.detail[:4000]
        run.finished_at = now()
        run.recording.event.status = EventStatus.FAILED.value
        db.session.commit()
        log.warning("transcription of recording %s failed: %s %s", spec.recording_id, merged.error, merged.detail)
        return {"error": merged.error}
    stored = store_automatic(run.recording, merged.transcripts)
    run.status, run.percent, run.finished_at = StageStatus.DONE.value, 100.0, now()
    run.error_code = run.error_detail = None
    run.result = {**(run.result or {}), **_summary(merged.transcripts, stored), "chunk_seconds": merged.chunk_seconds}
    db.session.commit()
    core.storage().delete_prefix(spec.prefix + "/")  # chunk audio and results are no longer needed
    stage_finished.send(spec.recording_id)
    return {"done": True}


def _summary(transcripts: dict[str, Transcript], stored: list) -> dict[str, Any]:
    main = next(iter(transcripts.values()), None)
    return {
        "language": next(iter(transcripts), ""),
        "text": main.text[:2000] if main else "",
        "tracks": {s.language: {"version": s.version, "cues": s.cues, "kept_edited": s.kept_edited} for s in stored},
        "cues": stored[0].cues if stored else 0,
    }


@dataclass
class DeferredOutcome(StageOutcome):
    """The stage keeps running after its job returns: chunk jobs do the work, the merge job finishes it."""
    spec: Spec | None = None

    def apply(self, run: StageRun) -> None:
        assert self.spec is not None
        # The merge job's id is recorded before anything is enqueued: the reconciler then knows which
        # job must stay alive, and a crash between these two steps is found (no such job) and redone.
        merge_id = f"asr-merge-{uuid.uuid4().hex}"
        run.result = self.result
        run.rq_job_id = merge_id
        run.percent = PLAN_SHARE
        db.session.commit()
        enqueue(self.spec, merge_job_id=merge_id)


def transcribe_recording(recording: Recording, source: Path, workdir: Path,
                         progress: Callable[[float], None]) -> StageOutcome:
    """The transcribe stage: direct for short recordings, chunk jobs for long ones."""
    settings = core.settings()
    event = recording.event
    language = event.language or "vi"
    duration = float(recording.duration_s or 0.0)
    long = duration >= chunked_above_s()
    # Short recordings: the sequential decoder, which measured best per file (docs/asr.md).
    decoder = DecodeOptions().decoder if long else "sequential"
    detection: dict[str, Any] = {}
    if language == AUTO_LANGUAGE:
        # Only when the event says so: a guess is decided once for the whole recording, so that every
        # chunk is decoded in the same language. Same model as the decoding below: loaded once.
        found, probability = detect_language(source, model=settings.whisper_model, device=settings.whisper_device,
                                             cpu_threads=settings.whisper_threads, replicas=settings.whisper_replicas,
                                             decoder=decoder)
        language = found or "vi"
        detection = {"language_detected": found or "", "language_probability": probability}
        # From now on the event has that language (the portal, the player's default track and the
        # speaker's downloads look it up there); the event form shows it and an editor can correct it.
        event.language = language
        db.session.commit()
    terms = terms_for(event)
    tracks = tracks_for(language, DecodeOptions(language=language, decoder=decoder, **decoder_hints(terms)))
    if long:
        prefix = recording_prefix(recording, tracks, settings.whisper_model, terms)
        spec = prepare(source, prefix, tracks, model=settings.whisper_model, workdir=workdir,
                       recording_id=recording.id, duration_hint=duration or None, glossary=terms,
                       progress=lambda p: progress(p * PLAN_SHARE / 100.0))
        result = {"mode": "chunked", "asr_prefix": prefix, "chunks": len(spec.plan.chunks),
                  "speech_s": spec.plan.speech_s, "tracks": [t.language for t in tracks], **detection}
        if get_current_job() is not None:
            return DeferredOutcome(result, spec=spec)
        # Not in a worker (the `diemcau process` command): run the same chunks here, one after another.
        for t, track in enumerate(spec.tracks):
            for chunk in [] if track.from_text else spec.plan.chunks:
                run_chunk(prefix, t, chunk.index)
        merged = collect(spec)
        core.storage().delete_prefix(prefix + "/")
        if merged.error in CODES:
            raise TranscribeError(merged.error, merged.detail)
        if merged.error:
            raise RuntimeError(f"{merged.error}: {merged.detail}")
        transcripts = merged.transcripts
    else:
        transcripts = {}
        share = 100.0 / len(tracks)
        for n, track in enumerate(tracks):
            if track.from_text:
                transcripts[track.language] = track.translator.translate_transcript(transcripts[tracks[0].language])
                continue
            transcripts[track.language] = transcribe_file(
                source, options=track.decode, model=settings.whisper_model, device=settings.whisper_device,
                cpu_threads=settings.whisper_threads, replicas=settings.whisper_replicas,
                progress=lambda p, n=n: progress(n * share + p * share / 100.0))
            if n == 0 and terms and corrects():
                transcripts[track.language] = apply_glossary(transcripts[track.language], terms)
        result = {"mode": "direct", **detection}
    result.update(_local_copies(transcripts, workdir))

    def record() -> None:
        stored = store_automatic(recording, transcripts)
        result.update(_summary(transcripts, stored))
    return StageOutcome(result, apply_extra=record)


def _local_copies(transcripts: dict[str, Transcript], workdir: Path) -> dict[str, Any]:
    """Subtitle files in the stage's folder too (the `process` command prints their paths)."""
    out: dict[str, Any] = {}
    for n, (language, transcript) in enumerate(transcripts.items()):
        cues = build_cues(transcript)
        vtt = write_vtt(cues, workdir / f"subtitles.{language}.vtt", language=language)
        srt = write_srt(cues, workdir / f"subtitles.{language}.srt")
        if n == 0:
            out.update(vtt=str(vtt), srt=str(srt), text=transcript.text, language=language, cues=len(cues))
        else:
            out[f"vtt_{language}"] = str(vtt)
    return out


def recording_prefix(recording: Recording, tracks: list[Track], model: str | None, glossary: list[str]) -> str:
    digest = hashlib.sha256(json.dumps({
        "source": recording.sha256 or recording.source_key, "tracks": [asdict(t) for t in tracks],
        "model": model_label(model), "plan": PlanOptions().to_dict(), "glossary": glossary,
    }, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return f"recordings/{recording.id}/asr/{digest}"
