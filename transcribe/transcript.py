"""Transcript data model (no heavy imports, so the panel can use it cheaply)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .textutil import comparable, join_words, nfc

SCHEMA_VERSION = 1


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass
class Transcript:
    language: str
    duration_s: float
    segments: list[Segment]
    model: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return nfc(join_words(s.text for s in self.segments if s.text))

    def shifted(self, offset: float) -> Transcript:
        """The same transcript with every time moved by ``offset`` seconds (a chunk placed in its recording)."""

        def move(t: float) -> float:
            return round(t + offset, 3)

        segments = [
            replace(s, start=move(s.start), end=move(s.end),
                    words=[replace(w, start=move(w.start), end=move(w.end)) for w in s.words])
            for s in self.segments
        ]
        return replace(self, segments=segments, duration_s=move(self.duration_s))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema"] = SCHEMA_VERSION
        data["text"] = self.text  # convenience for readers; ignored by from_dict
        return data

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        segments = [
            Segment(
                start=float(s["start"]),
                end=float(s["end"]),
                text=s["text"],
                words=[
                    Word(float(w["start"]), float(w["end"]), w["text"], float(w["probability"]))
                    for w in s.get("words", [])
                ],
                avg_logprob=float(s.get("avg_logprob", 0.0)),
                no_speech_prob=float(s.get("no_speech_prob", 0.0)),
            )
            for s in d.get("segments", [])
        ]
        return cls(
            language=d["language"],
            duration_s=float(d["duration_s"]),
            segments=segments,
            model=d.get("model", ""),
            settings=dict(d.get("settings", {})),
        )


def merge_transcripts(parts: Iterable[Transcript], duration_s: float, *, language: str, model: str,
                      settings: dict[str, Any] | None = None) -> Transcript:
    """Join chunk transcripts (already shifted to recording time) into one.

    Times are kept as they are, only made monotonic; a line repeated across a
    chunk boundary (Whisper sometimes re-reads the edge) is dropped.
    """
    segments: list[Segment] = []
    last_key = ""
    prev_end = 0.0
    for part in parts:
        for seg in part.segments:
            key = comparable(seg.text)
            if not key or key == last_key:
                continue
            words = []
            for w in seg.words:
                start = max(w.start, prev_end)
                words.append(replace(w, start=round(start, 3), end=round(max(w.end, start), 3)))
                prev_end = words[-1].end
            start = max(seg.start, segments[-1].end if segments else 0.0)
            if words:
                start, end = words[0].start, words[-1].end
            else:
                end = max(seg.end, start)
            segments.append(replace(seg, start=round(start, 3), end=round(min(end, max(duration_s, end)), 3),
                                    words=words))
            prev_end = max(prev_end, segments[-1].end)
            last_key = key
    return Transcript(language=language if segments or language else "", duration_s=round(duration_s, 3),
                      segments=segments, model=model, settings=dict(settings or {}))
