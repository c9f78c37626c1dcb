"""Decode any media file to 16 kHz mono float32 for Whisper.

Every decode is one ffmpeg run with media.safe_input's input rules: whatever the file says, ffmpeg
reads that file alone (no playlist, no network, no other file on the server). Those rules have
one home, in media; this package only reads them (media never imports transcribe).
"""

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

    from media.safe_input import input_args

    exe = shutil.which("ffmpeg")
    if exe is None:
        raise TranscribeError(AUDIO_UNREADABLE, "ffmpeg is not installed")
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    return [exe, "-nostdin", "-hide_banner", "-loglevel", "error", *input_args(path), "-map", "0:a:0", *limit,
            "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1"]


def load_audio_head(path: str | Path, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a file's first audio stream (ffmpeg stops there: a 4-hour file is not read)."""
    return _decode(path, seconds)


def load_audio(path: str | Path) -> np.ndarray:
    """The whole first audio stream; video files use their first audio stream.

    We decode here rather than letting faster-whisper do it so that decode failures are told apart
    from model failures, and so that the decode follows media.safe_input's rules. The samples are
    those of faster-whisper's own decoder (s16 mono at 16 kHz through libswresample, as floats).
    """
    return _decode(path, None)


def _decode(path: str | Path, seconds: float | None) -> np.ndarray:
    import subprocess

    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise TranscribeError(AUDIO_UNREADABLE, f"{path} does not exist")
    res = subprocess.run(pcm_command(path, seconds), capture_output=True)
    if res.returncode != 0 or not res.stdout:
        err = res.stderr.decode("utf-8", "replace").strip()
        if "matches no streams" in err or "does not contain any stream" in err:
            raise TranscribeError(AUDIO_UNREADABLE, f"{path.name} has no audio stream")
        raise TranscribeError(AUDIO_UNREADABLE, f"{path.name}: {err[-300:] or 'no audio samples'}")
    return np.frombuffer(res.stdout, "<i2").astype(np.float32) / 32768.0
