"""Transcript data model (no heavy imports, so the panel can use it cheaply)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .textutil import join_words, nfc

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
