"""Speech-to-text for one media file with faster-whisper."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .audio import SAMPLE_RATE, load_audio
from .model import load_model, model_label, resolve_device
from .textutil import comparable, nfc
from .transcript import Segment, Transcript, Word

__all__ = ["Segment", "Transcript", "Word", "clean_segments", "transcribe_file"]

# Whisper's own "no speech" rule: both must hold to call a segment silence.
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
# Stock phrases Whisper invents on silence/music for Vietnamese (learned from
# YouTube outros); they never occur in meeting speech.
HALLUCINATED_PHRASES = ("ghiền mì gõ", "subscribe cho kênh", "like và subscribe", "la la school")

TASKS = frozenset({"transcribe", "translate"})


def transcribe_file(
    path: str | Path,
    *,
    language: str | None = "vi",
    task: str = "transcribe",
    model: str | Path | None = None,
    beam_size: int = 5,
    vad: bool = True,
    initial_prompt: str | None = None,
    word_timestamps: bool = True,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe a video or audio file. ``language=None`` auto-detects.

    ``progress`` gets 0..100 as segments arrive; an exception it raises
    (e.g. a cancellation) propagates unchanged.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, not {task!r}")
    _check_language(language)
    whisper = load_model(model, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    audio = load_audio(path)
    duration = round(audio.shape[0] / SAMPLE_RATE, 3)
    if progress:
        progress(0.0)
    raw_segments, info = whisper.transcribe(
        audio,
        language=language,
        task=task,
        beam_size=beam_size,
        vad_filter=vad,
        initial_prompt=nfc(initial_prompt) if initial_prompt else None,
        word_timestamps=word_timestamps,
    )
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
        "language": language,
        "task": task,
        "beam_size": beam_size,
        "vad": vad,
        "initial_prompt": initial_prompt,
        "word_timestamps": word_timestamps,
        "device": resolved_device,
        "compute_type": resolved_type,
        "cpu_threads": cpu_threads,
        "language_probability": round(float(info.language_probability), 3),
        "engine": f"faster-whisper {_engine_version()}",
    }
    segments = clean_segments(collected, duration)
    # Detection on silence is a guess (often "en"): report no language instead.
    detected = info.language if (language or segments) else ""
    return Transcript(
        language=detected,
        duration_s=duration,
        segments=segments,
        model=model_label(model),
        settings=settings,
    )


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
