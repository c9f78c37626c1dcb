"""Scoring transcripts against references (used by `diemcau eval-asr` and bench/).

A data folder holds audio files and ``transcripts.tsv`` (header ``file<TAB>text``).
WER and CER are corpus-level (all errors / all reference words or characters),
computed by jiwer after both sides go through :func:`normalize_for_scoring`.
"""

from __future__ import annotations

import csv
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, load_audio
from .errors import AUDIO_UNREADABLE, TranscribeError
from .normalize import normalize_for_scoring

__all__ = ["Reference", "Score", "join_with_pauses", "read_references", "score"]

REFERENCES_FILE = "transcripts.tsv"


@dataclass(frozen=True)
class Reference:
    path: Path
    text: str


@dataclass(frozen=True)
class Score:
    wer: float
    cer: float
    words: int  # reference words after normalisation
    errors: int  # substitutions + deletions + insertions

    def to_dict(self) -> dict:
        return {"wer": self.wer, "cer": self.cer, "words": self.words, "errors": self.errors}


def read_references(folder: str | Path) -> list[Reference]:
    """The rows of ``folder/transcripts.tsv`` in file order; raises ValueError with a clear reason."""
    folder = Path(folder)
    tsv = folder / REFERENCES_FILE
    if not tsv.is_file():
        raise ValueError(f"{folder} has no {REFERENCES_FILE} (header: file<TAB>text)")
    with tsv.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not reader.fieldnames or {"file", "text"} - set(reader.fieldnames):
            raise ValueError(f"{tsv} must have the header file<TAB>text")
        rows = [Reference(folder / row["file"], row["text"] or "") for row in reader if row.get("file")]
    missing = [r.path.name for r in rows if not r.path.is_file()]
    if missing:
        raise ValueError(f"{tsv} names files that do not exist: {', '.join(missing[:5])}")
    if not rows:
        raise ValueError(f"{tsv} lists no files")
    return rows


def score(references: list[str], hypotheses: list[str]) -> Score:
    import jiwer

    refs = [normalize_for_scoring(t) for t in references]
    hyps = [normalize_for_scoring(t) for t in hypotheses]
    # jiwer refuses empty references; an empty pair is simply no words and no errors.
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r]
    inserted = sum(len(h.split()) for r, h in zip(refs, hyps, strict=True) if not r)
    if not pairs:
        return Score(wer=0.0 if not inserted else 1.0, cer=0.0, words=0, errors=inserted)
    words = jiwer.process_words([r for r, _ in pairs], [h for _, h in pairs])
    chars = jiwer.process_characters([r for r, _ in pairs], [h for _, h in pairs])
    n_words = sum(len(r.split()) for r, _ in pairs)
    errors = words.substitutions + words.deletions + words.insertions + inserted
    n_chars = sum(len(r) for r, _ in pairs)
    char_errors = chars.substitutions + chars.deletions + chars.insertions
    return Score(wer=round(errors / n_words, 4), cer=round(char_errors / n_chars, 4), words=n_words, errors=errors)


def join_with_pauses(paths: list[Path], dest: str | Path, pause_s: float = 0.5) -> float:
    """Write the files one after another, ``pause_s`` of silence between them, as a 16 kHz WAV.

    Returns the duration. Files are decoded one at a time (eval sets are short clips).
    """
    pause = np.zeros(int(round(pause_s * SAMPLE_RATE)), dtype="<i2")
    total = 0
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for n, path in enumerate(paths):
            try:
                audio = load_audio(path)
            except TranscribeError as exc:
                raise TranscribeError(AUDIO_UNREADABLE, f"{path.name}: {exc.detail}") from exc
            if n:
                out.writeframes(pause.tobytes())
                total += len(pause)
            pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
            out.writeframes(pcm.tobytes())
            total += len(pcm)
    return round(total / SAMPLE_RATE, 3)
