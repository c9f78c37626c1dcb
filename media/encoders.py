"""Choose the H.264 encoder: NVENC on a machine with a usable NVIDIA GPU, libx264 otherwise.

"Listed in `ffmpeg -encoders`" is not enough: Debian's ffmpeg lists h264_nvenc on every machine,
GPU or not. So a listed hardware encoder must also pass a tiny trial encode (a few frames of a
lavfi test pattern to the null muxer) before the ladder relies on it. The answer is cached per
(ffmpeg binary, preference) for the life of the process: a worker asks once, not once per job.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

CPU_ENCODER = "libx264"
NVENC_ENCODER = "h264_nvenc"
# Preference values accepted from configuration (DIEMCAU_VIDEO_ENCODER).
AUTO = "auto"
PREFERENCES = (AUTO, CPU_ENCODER, NVENC_ENCODER)
_TRIAL_TIMEOUT_S = 30


@dataclass(frozen=True)
class EncoderChoice:
    encoder: str  # what the ladder will use
    reason: str  # one line for logs and the stage result: why this one

    @property
    def hardware(self) -> bool:
        return self.encoder != CPU_ENCODER


def listed_encoders(ffmpeg_bin: str = "ffmpeg") -> frozenset[str]:
    """Encoder names `ffmpeg -encoders` lists (empty when ffmpeg cannot be run)."""
    try:
        out = subprocess.run(
            [ffmpeg_bin, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # Rows look like " V....D libx264   libx264 H.264 ..."; the legend above has "=" in it.
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS" and "=" not in line:
            names.add(parts[1])
    return frozenset(names)


def trial_encode(encoder: str, ffmpeg_bin: str = "ffmpeg") -> tuple[bool, str]:
    """Encode 5 frames of 256x144 with `encoder`; (worked, last stderr line)."""
    argv = [
        ffmpeg_bin, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "lavfi", "-i", "testsrc2=size=256x144:rate=25",
        "-frames:v", "5", "-pix_fmt", "yuv420p", "-c:v", encoder, "-f", "null", "-",
    ]  # fmt: skip
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=_TRIAL_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    return res.returncode == 0, (lines[-1] if lines else "")


def choose_encoder(preference: str = AUTO, ffmpeg_bin: str = "ffmpeg") -> EncoderChoice:
    """The encoder for `preference` ("auto", "libx264" or "h264_nvenc").

    "auto" takes NVENC when it is listed and a trial encode works, else libx264. "h264_nvenc"
    insists on NVENC but still falls back (with a warning) when the GPU cannot encode: a worker
    moved to a machine without a GPU keeps working instead of failing every job.
    """
    return _choose(preference.strip().lower() or AUTO, ffmpeg_bin)


@functools.lru_cache(maxsize=16)
def _choose(preference: str, ffmpeg_bin: str) -> EncoderChoice:
    if preference not in PREFERENCES:
        raise ValueError(f"unknown video encoder preference {preference!r}; use one of {', '.join(PREFERENCES)}")
    if preference == CPU_ENCODER:
        return EncoderChoice(CPU_ENCODER, "configured: CPU (libx264)")
    if NVENC_ENCODER not in listed_encoders(ffmpeg_bin):
        return _fallback(preference, "this ffmpeg has no h264_nvenc encoder")
    ok, message = trial_encode(NVENC_ENCODER, ffmpeg_bin)
    if not ok:
        return _fallback(preference, f"h264_nvenc trial encode failed: {message or 'no message'}")
    return EncoderChoice(NVENC_ENCODER, "h264_nvenc trial encode works (CUDA GPU with NVENC)")


def _fallback(preference: str, why: str) -> EncoderChoice:
    if preference == NVENC_ENCODER:
        log.warning("h264_nvenc was configured but cannot be used (%s); using libx264", why)
    return EncoderChoice(CPU_ENCODER, f"{why}; CPU (libx264)")


def clear_cache() -> None:
    """Forget earlier answers (tests; a GPU added to a running worker)."""
    _choose.cache_clear()
