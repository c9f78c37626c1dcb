"""Decode any media file to 16 kHz mono float32 for Whisper."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from .errors import AUDIO_UNREADABLE, TranscribeError

SAMPLE_RATE = 16_000


def load_audio(path: str | Path) -> np.ndarray:
    """Decode with PyAV (via faster-whisper); video files use their first audio stream.

    We decode here rather than letting faster-whisper do it so that decode
    failures are told apart from model failures.
    """
    from faster_whisper.audio import decode_audio

    path = Path(path)
    if not path.is_file():
        raise TranscribeError(AUDIO_UNREADABLE, f"{path} does not exist")
    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except IndexError as exc:  # faster-whisper's way of saying "no audio stream"
        raise TranscribeError(AUDIO_UNREADABLE, f"{path.name} has no audio stream") from exc
    except Exception as exc:  # PyAV/FFmpeg errors have many types; all mean "cannot decode"
        raise TranscribeError(AUDIO_UNREADABLE, f"{path.name}: {exc}") from exc
    if audio.size == 0:
        raise TranscribeError(AUDIO_UNREADABLE, f"{path.name} decoded to no audio samples")
    return audio
