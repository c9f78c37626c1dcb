"""Speech-to-text for one media file with faster-whisper."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audio import SAMPLE_RATE, load_audio, load_audio_head
from .errors import AUDIO_UNREADABLE, TranscribeError
from .model import load_model, model_label, resolve_device
from .options import DecodeOptions
from .textutil import comparable, join_words, nfc
from .transcript import Segment, Transcript, Word

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Segment", "Transcript", "Word", "clean_segments", "detect_language", "load_model_for", "transcribe_audio",
           "transcribe_file"]

# Whisper's own "no speech" rule: both must hold to call a segment silence.
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
# Stock phrases Whisper invents on silence/music for Vietnamese (learned from
# YouTube outros); they never occur in meeting speech.
HALLUCINATED_PHRASES = ("ghiền mì gõ", "subscribe cho kênh", "like và subscribe", "la la school")

TASKS = frozenset({"transcribe", "translate"})
# Pieces of speech decoded as one window never bridge a longer silence (hallucinations).
MAX_PIECE_GAP_S = 2.0
# Speech at least this long that no decoded word covers is decoded again on its own.
MIN_HOLE_S = 2.0


def transcribe_file(
    path: str | Path,
    *,
    language: str | None = "vi",
    task: str = "transcribe",
    model: str | Path | None = None,
    beam_size: int = 1,
    vad: bool = True,
    initial_prompt: str | None = None,
    hotwords: str | None = None,
    word_timestamps: bool = True,
    decoder: str = "sequential",
    options: DecodeOptions | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    replicas: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe a video or audio file. ``language=None`` auto-detects.

    ``replicas`` > 1 loads that many copies of the model (``cpu_threads`` each; they share the
    weights) and lets the batched decoder run them side by side on consecutive parts of the speech;
    0 chooses (see ``plan_threads``).

    ``options`` (when given) replaces the individual decoding arguments.
    ``progress`` gets 0..100 as segments arrive; an exception it raises
    (e.g. a cancellation) propagates unchanged.
    """
    if options is None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, not {task!r}")
        options = DecodeOptions(language=language, task=task, decoder=decoder, beam_size=beam_size, vad=vad,
                                initial_prompt=initial_prompt, hotwords=hotwords, word_timestamps=word_timestamps)
    _check_language(options.language)
    whisper, cpu_threads = load_model_for(options.decoder, model=model, device=device, compute_type=compute_type,
                                          cpu_threads=cpu_threads, replicas=replicas)
    audio = load_audio(path)
    return _decode(whisper, audio, options, model=model, device=device, compute_type=compute_type,
                   cpu_threads=cpu_threads, progress=progress)


def transcribe_audio(
    audio: np.ndarray,
    options: DecodeOptions,
    *,
    model: str | Path | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    replicas: int = 0,
    offset: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono samples (one chunk of a long recording); times are shifted by ``offset``."""
    _check_language(options.language)
    whisper, cpu_threads = load_model_for(options.decoder, model=model, device=device, compute_type=compute_type,
                                          cpu_threads=cpu_threads, replicas=replicas)
    if audio.size == 0:
        raise TranscribeError(AUDIO_UNREADABLE, "no audio samples")
    transcript = _decode(whisper, audio, options, model=model, device=device, compute_type=compute_type,
                         cpu_threads=cpu_threads, progress=progress)
    return transcript.shifted(offset) if offset else transcript


def _decode(whisper: Any, audio: np.ndarray, options: DecodeOptions, *, model: str | Path | None, device: str,
            compute_type: str, cpu_threads: int, progress: Callable[[float], None] | None) -> Transcript:
    duration = round(audio.shape[0] / SAMPLE_RATE, 3)
    if progress:
        progress(0.0)
    prompt = nfc(options.initial_prompt) if options.initial_prompt else None
    hotwords = nfc(options.hotwords) if options.hotwords else None
    common: dict[str, Any] = {
        "language": options.language,
        "task": options.task,
        "beam_size": options.beam_size,
        "word_timestamps": options.word_timestamps,
        "initial_prompt": prompt,
        "hotwords": hotwords,
    }
    if options.decoder == "batched":
        raw_segments, info = _decode_batched(whisper, audio, options, duration, common)
    else:
        raw_segments, info = whisper.transcribe(
            audio, vad_filter=options.vad, vad_parameters=options.vad_parameters() if options.vad else None,
            **common)
    collected = []
    done = 0.0
    for raw in raw_segments:  # decoding happens lazily, window by window
        collected.append(raw)
        if progress and duration > 0:
            done = max(done, min(100.0, 100.0 * raw.end / duration))
            progress(round(done, 1))
    if progress:
        progress(100.0)
    resolved_device, resolved_type = resolve_device(device, compute_type)
    settings: dict[str, Any] = {
        **options.to_dict(),
        "device": resolved_device,
        "compute_type": resolved_type,
        "cpu_threads": cpu_threads,
        "replicas": _replicas_of(whisper),
        "language_probability": round(float(info.language_probability), 3),
        "engine": f"faster-whisper {_engine_version()}",
    }
    segments = clean_segments(collected, duration)
    # Detection on silence is a guess (often "en"): report no language instead.
    detected = info.language if (options.language or segments) else ""
    if options.task == "translate" and segments:
        detected = "en"
    return Transcript(
        language=detected,
        duration_s=duration,
        segments=segments,
        model=model_label(model),
        settings=settings,
    )


def detect_language(
    path: str | Path,
    *,
    model: str | Path | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    replicas: int = 0,
    decoder: str = "batched",
    head_s: float = 600.0,
) -> tuple[str | None, float]:
    """The language spoken in a file, for when an editor asks for detection instead of naming it.

    Whisper's language detection over up to three 30 s windows of the speech (VAD) found in the
    first ``head_s`` seconds. (None, 0.0) when there is no speech there. ``decoder`` is the one the
    transcription will use, so that both load the same model (once).
    """
    import numpy as np
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = load_audio_head(path, head_s)
    regions = get_speech_timestamps(audio, VadOptions())
    if not regions:
        return None, 0.0
    speech = np.concatenate([audio[r["start"]:r["end"]] for r in regions])
    whisper, _threads = load_model_for(decoder, model=model, device=device, compute_type=compute_type,
                                       cpu_threads=cpu_threads, replicas=replicas)
    language, probability, _ = whisper.detect_language(audio=speech, language_detection_segments=3)
    return language, round(float(probability), 3)


def speech_pieces(audio: np.ndarray, options: DecodeOptions) -> list[tuple[float, float]]:
    """Speech regions (VAD) grouped into pieces of at most ``piece_s``, each decoded as one window.

    A piece never spans a silence longer than ``MAX_PIECE_GAP_S``: Whisper
    invents text over long silences inside its window.
    """
    duration = audio.shape[0] / SAMPLE_RATE
    if not options.vad:  # fixed windows
        step = options.piece_s
        return [(t, math.floor(min(t + step, duration) * 1000) / 1000) for t in _frange(0.0, duration, step)]
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(**options.vad_parameters(max_speech_s=options.piece_s))
    regions = [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in get_speech_timestamps(audio, vad)]
    pieces: list[tuple[float, float]] = []
    for start, end in regions:
        if pieces and end - pieces[-1][0] <= options.piece_s and start - pieces[-1][1] <= MAX_PIECE_GAP_S:
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((start, end))
    # Floor to the millisecond: faster-whisper turns these back into sample indices.
    return [(round(s, 3), math.floor(min(e, duration) * 1000) / 1000) for s, e in pieces if e > s]


def _frange(start: float, stop: float, step: float) -> list[float]:
    out, t = [], start
    while t < stop:
        out.append(t)
        t += step
    return out


def uncovered(pieces: list[tuple[float, float]], words: list[tuple[float, float]],
              min_hole_s: float = MIN_HOLE_S) -> list[tuple[float, float]]:
    """Stretches of the pieces, at least ``min_hole_s`` long, that no decoded word covers.

    Beam search without timestamp tokens sometimes skips whole sentences at
    the start of a window; word timestamps show where.
    """
    holes: list[tuple[float, float]] = []
    spans = sorted(words)
    for start, end in pieces:
        cursor = start
        for w_start, w_end in spans:
            if w_end <= start or w_start >= end:
                continue
            if w_start - cursor >= min_hole_s:
                holes.append((cursor, w_start))
            cursor = max(cursor, w_end)
        if end - cursor >= min_hole_s:
            holes.append((cursor, end))
    return [(round(s, 3), round(e, 3)) for s, e in holes]


def _decode_batched(whisper: Any, audio: np.ndarray, options: DecodeOptions, duration: float,
                    common: dict[str, Any]) -> tuple[list[Any], Any]:
    from faster_whisper import BatchedInferencePipeline

    pieces = speech_pieces(audio, options)
    if not pieces:
        # Nothing to decode; faster-whisper still reports language info for an empty run.
        return [], _NoSpeechInfo(options.language or "")

    replicas = _replicas_of(whisper)

    def run_one(clips: list[tuple[float, float]]) -> tuple[list[Any], Any]:
        segments, info = BatchedInferencePipeline(whisper).transcribe(
            audio, batch_size=options.batch_size, chunk_length=int(options.piece_s),
            clip_timestamps=[{"start": s, "end": e} for s, e in clips], **common)
        return list(segments), info

    def run(clips: list[tuple[float, float]]) -> tuple[list[Any], Any]:
        groups = split_evenly(clips, replicas)
        if len(groups) < 2:
            return run_one(clips)
        # A model loaded with several replicas (one thread each) decodes the groups side by side:
        # CTranslate2 releases the GIL, and one-thread replicas waste less than threads that must
        # meet after every small decoder step.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(groups)) as pool:
            results = list(pool.map(run_one, groups))
        return [seg for segments, _info in results for seg in segments], results[0][1]

    segments, info = run(pieces)
    if options.word_timestamps:
        spoken = [(w.start, w.end) for seg in segments for w in (seg.words or [])]
        holes = uncovered(pieces, spoken)
        if holes:
            # Decode the skipped stretches on their own: a shorter window is read in full.
            again, _ = run(holes)
            kept = [seg for seg in again if seg.words and any(h0 <= seg.words[0].start < h1 for h0, h1 in holes)]
            segments = sorted(segments + kept, key=lambda seg: seg.start)
    return segments, info


def load_model_for(decoder: str, *, model: str | Path | None = None, device: str = "auto",
                   compute_type: str = "auto", cpu_threads: int = 0, replicas: int = 0) -> tuple[Any, int]:
    """The (cached) model for ``decoder`` with its threads and replicas planned by ``plan_threads``;
    returns it and the threads per replica."""
    cpu_threads, replicas = plan_threads(device, cpu_threads, replicas, decoder)
    whisper = load_model(model, device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                         num_workers=replicas)
    return whisper, cpu_threads


def _replicas_of(whisper: Any) -> int:
    return max(1, int(getattr(whisper.model, "num_workers", 1)))


def plan_threads(device: str, cpu_threads: int, replicas: int, decoder: str = "batched") -> tuple[int, int]:
    """(threads per replica, replicas). ``replicas`` 0 is automatic: for the batched decoder (the only
    one that splits its work), two on a CPU whose cores are all given to Whisper (``cpu_threads`` 0),
    each with half of them (faster side by side than one replica on all cores: docs/asr.md, Speed);
    otherwise one. ``cpu_threads`` 0 ("all cores") is shared out between replicas."""
    cores = os.cpu_count() or 1
    if replicas <= 0:
        on_cpu = resolve_device(device)[0] == "cpu"
        replicas = 2 if decoder == "batched" and on_cpu and cpu_threads == 0 and cores >= 2 else 1
    if replicas > 1 and cpu_threads == 0:
        cpu_threads = max(1, cores // replicas)
    return cpu_threads, replicas


def split_evenly(pieces: list[tuple[float, float]], groups: int) -> list[list[tuple[float, float]]]:
    """Consecutive runs of pieces with about the same amount of speech each (at most ``groups``)."""
    total = sum(e - s for s, e in pieces)
    out: list[list[tuple[float, float]]] = [[]]
    done = 0.0
    for piece in pieces:
        if out[-1] and len(out) < groups and done >= total * len(out) / groups:
            out.append([])
        out[-1].append(piece)
        done += piece[1] - piece[0]
    return [group for group in out if group]


@dataclass
class _NoSpeechInfo:
    language: str
    language_probability: float = 0.0


def clean_segments(raw_segments: Iterable[Any], duration: float) -> list[Segment]:
    """Convert faster-whisper segments, dropping likely hallucinations.

    Timestamps are clamped to [0, duration] and made monotonic so subtitle
    code can rely on them.
    """
    kept: list[Segment] = []
    last_key = ""
    prev_end = 0.0
    for raw in raw_segments:
        text = nfc(raw.text)
        key = comparable(text)
        if not key:  # only punctuation or music symbols
            continue
        if raw.no_speech_prob > NO_SPEECH_PROB and raw.avg_logprob < LOW_LOGPROB:
            continue
        if any(phrase in key for phrase in HALLUCINATED_PHRASES):
            continue
        if key == last_key:  # Whisper's classic loop: the same line again
            continue
        words = _clean_words(raw.words or [], prev_end, duration)
        if words:
            looped = collapse_loops([w.text for w in words])
            if len(looped) < len(words):
                words = [words[i] for i in looped]
                text = nfc(join_words(w.text for w in words))
        elif raw.words is None:
            tokens = text.split(" ")
            text = " ".join(tokens[i] for i in collapse_loops(tokens))
        if words:
            start, end = words[0].start, words[-1].end
        else:
            start = _clamp(raw.start, prev_end, duration)
            end = _clamp(raw.end, start, duration)
        kept.append(
            Segment(
                start=start,
                end=end,
                text=text,
                words=words,
                avg_logprob=round(float(raw.avg_logprob), 4),
                no_speech_prob=round(float(raw.no_speech_prob), 4),
            )
        )
        last_key = key
        prev_end = end
    return kept


def collapse_loops(tokens: list[str], max_n: int = 8) -> list[int]:
    """Indices of ``tokens`` to keep once decoding loops are cut.

    Whisper sometimes repeats a word or phrase many times ("và và và ...").
    A phrase said three times in a row (a single word: four times) is a
    loop, not speech; only its first two occurrences are kept.
    """
    keys = [comparable(t) for t in tokens]
    keep: list[int] = []
    i = 0
    while i < len(keys):
        cut = False
        for n in range(1, max_n + 1):
            if i + 2 * n > len(keys):
                break
            gram = keys[i : i + n]
            if not all(gram):
                continue
            repeats = 1
            while keys[i + repeats * n : i + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= (4 if n == 1 else 3):
                keep.extend(range(i, i + 2 * n))
                i += repeats * n
                cut = True
                break
        if not cut:
            keep.append(i)
            i += 1
    return keep


def _clean_words(raw_words: Iterable[Any], prev_end: float, duration: float) -> list[Word]:
    words: list[Word] = []
    for raw in raw_words:
        text = nfc(raw.word)
        if not text:
            continue
        start = _clamp(raw.start, prev_end, duration)
        end = _clamp(raw.end, start, duration)
        words.append(Word(start=start, end=end, text=text, probability=round(float(raw.probability), 4)))
        prev_end = end
    return words


def _clamp(value: float, low: float, high: float) -> float:
    return round(min(max(float(value), low), max(high, low)), 3)


def _check_language(language: str | None) -> None:
    if language is None:
        return
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if language not in _LANGUAGE_CODES:
        raise ValueError(f"unsupported language code {language!r}")


def _engine_version() -> str:
    from importlib.metadata import version

    return version("faster-whisper")
