"""Decoding and segmentation choices, in one place.

The defaults are the choices measured on ../shared/data/speech_vi (figures in
docs/asr.md). Options travel inside RQ job arguments, so they convert to and
from plain dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["DecodeOptions", "PlanOptions"]

DECODERS = frozenset({"batched", "sequential"})


@dataclass(frozen=True)
class DecodeOptions:
    """How one piece of audio is decoded (per file, or per chunk of a long recording)."""

    language: str | None = "vi"  # None: detect (only when an editor asks for it)
    task: str = "transcribe"  # or "translate" (to English)
    # "batched": faster-whisper's BatchedInferencePipeline over VAD pieces (fast on CPU, no
    # text carried between pieces); "sequential": the classic 30 s sliding window.
    decoder: str = "batched"
    # Greedy: 25-30 % less CPU than beam 5 for the same or better WER per file and +0.2 to +0.7
    # points on long recordings (docs/asr.md); loops it falls into are cut by the engine's guards.
    beam_size: int = 1
    batch_size: int = 8
    vad: bool = True  # decode only where voice activity detection finds speech
    # Longest stretch of speech decoded as one Whisper window (batched decoder). Every window is
    # padded to 30 s, so longer pieces mean fewer windows: 28 s decodes ~11 % faster than 25 s at a
    # lower WER; 29-30 s are faster still but skip words (WER +0.7 to +1.7 points, docs/asr.md).
    piece_s: float = 28.0
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 160
    vad_speech_pad_ms: int = 400
    word_timestamps: bool = True
    initial_prompt: str | None = None
    hotwords: str | None = None

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {sorted(DECODERS)}, not {self.decoder!r}")
        if self.task not in ("transcribe", "translate"):
            raise ValueError(f"task must be transcribe or translate, not {self.task!r}")
        if not 1.0 <= self.piece_s <= 30.0:
            raise ValueError("piece_s must be between 1 and 30 seconds (one Whisper window)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DecodeOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def with_(self, **changes: Any) -> DecodeOptions:
        return replace(self, **changes)

    def vad_parameters(self, max_speech_s: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "threshold": self.vad_threshold,
            "min_silence_duration_ms": self.vad_min_silence_ms,
            "speech_pad_ms": self.vad_speech_pad_ms,
        }
        if max_speech_s is not None:
            params["max_speech_duration_s"] = max_speech_s
        return params


@dataclass(frozen=True)
class PlanOptions:
    """How a long recording is cut into chunks, each transcribed by its own job."""

    # Upper bound on a chunk's length: bounds a job's memory and run time, and gives
    # enough chunks for several workers to share a recording.
    # 120 s holds four 28 s pieces, decoded as one batch: 60 s chunks cost ~7 % more CPU (docs/asr.md).
    max_chunk_s: float = 120.0
    # Shorter recordings get shorter chunks, aiming at ``target_chunks`` of at least ``min_chunk_s``
    # (a 10-minute recording: 6 chunks, so two workers get three each).
    min_chunk_s: float = 20.0
    target_chunks: int = 4
    # Silence kept around the speech of a chunk, so VAD in the chunk job sees clean edges.
    pad_s: float = 0.3
    # A gap between speech regions at least this long is a place to cut.
    min_gap_s: float = 0.3
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 300
    vad_speech_pad_ms: int = 100
    # Audio is decoded and scanned in windows of this length: memory stays bounded for
    # recordings of any length.
    window_s: float = 300.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PlanOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})
