"""Decode any media file to 16 kHz mono float32 for Whisper."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from .errors import AUDIO_UNREADABLE, TranscribeError

SAMPLE_RATE = 16_000


def pcm_command(path: str | Path, seconds: float | None = None) -> list[str]:
    """ffmpeg decoding the first audio stream (or its first ``seconds``) to 16 kHz mono s16le on stdout."""
    import shutil

    exe = shutil.which("ffmpeg")
    if exe is None:
        raise TranscribeError(AUDIO_UNREADABLE, "ffmpeg is not installed")
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    return [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:a:0", *limit,
            "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]


def load_audio_head(path: str | Path, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a file's first audio stream (ffmpeg stops there: a 4-hour file is not read)."""
    import subprocess

    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise TranscribeError(AUDIO_UNREADABLE, f"{path} does not exist")
    res = subprocess.run(pcm_command(path, seconds), capture_output=True)
    if res.returncode != 0 or not res.stdout:
        detail = res.stderr.decode("utf-8", "replace").strip()[-300:] or "no audio samples"
        raise TranscribeError(AUDIO_UNREADABLE, f"{path.name}: {detail}")
    return np.frombuffer(res.stdout, "<i2").astype(np.float32) / 32768.0


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
