"""Poster images: a representative video frame, or a waveform picture for audio-only sources."""

from __future__ import annotations

import logging
import statistics
import subprocess
from pathlib import Path

import ffmpeg

from media.errors import MediaError
from media.ffprogress import compile_args, run_ffmpeg
from media.ladder import fit_within

log = logging.getLogger(__name__)

POSTER_MAX_W = 1280
WAVE_SIZE = (1280, 360)
# Mean luma (0-255, studio black is 16) under which a frame counts as a fade/black slate.
_BLACK_MEAN = 28.0
_FLAT_STDEV = 4.0


def candidate_times(duration_s: float) -> list[float]:
    """~10% in (but at least 1 s when the clip is longer), then later fallbacks for black frames."""
    if duration_s <= 0:
        return [0.0]
    first = max(0.1 * duration_s, 1.0) if duration_s > 1.0 else 0.0
    latest = max(0.0, duration_s - 0.2)  # seeking to the very end may yield no frame at all
    times = [first, 0.25 * duration_s, 0.5 * duration_s]
    out: list[float] = []
    for t in times:
        t = round(min(t, latest), 3)
        if t not in out:
            out.append(t)
    return out


def frame_luma(src: Path, t: float) -> tuple[float, float] | None:
    """(mean, stdev) luma of a 64x36 grey thumbnail of the frame at `t`, None if none decodes."""
    cmd = (
        ffmpeg.input(str(src), ss=t)["V:0"]
        .filter("scale", 64, 36)
        .filter("format", "gray")
        .output("pipe:", format="rawvideo", vframes=1)
    )
    argv = compile_args(cmd)
    try:
        res = subprocess.run(
            [argv[0], "-v", "error", "-nostdin", *argv[1:]],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if res.returncode != 0 or len(res.stdout) < 64 * 36:
        return None
    px = list(res.stdout[: 64 * 36])
    return statistics.fmean(px), statistics.pstdev(px)


def pick_time(src: Path, duration_s: float) -> float:
    """First candidate that is not near-black or flat; otherwise the brightest one."""
    best_t, best_mean = 0.0, -1.0
    for t in candidate_times(duration_s):
        stats = frame_luma(src, t)
        if stats is None:
            continue
        mean, stdev = stats
        if mean >= _BLACK_MEAN and stdev >= _FLAT_STDEV:
            return t
        if mean > best_mean:
            best_t, best_mean = t, mean
    return best_t


def video_poster(src: Path, dest: Path, duration_s: float, display_w: int, display_h: int) -> None:
    t = pick_time(src, duration_s)
    w, h = fit_within(display_w, display_h, POSTER_MAX_W)
    # Input-side -ss seeks to the preceding keyframe and decodes up to t: fast and accurate.
    # Autorotation applies here as in the transcode, so the poster is upright too.
    cmd = (
        ffmpeg.input(str(src), ss=t)["V:0"]
        .filter("scale", w, h)
        .filter("setsar", "1")
        .output(str(dest), vframes=1, **{"q:v": 3, "update": 1})
        .global_args("-loglevel", "error")
        .overwrite_output()
    )
    run_ffmpeg(cmd, None)


def waveform_poster(src: Path, dest: Path) -> None:
    """Waveform of the whole track on a light background (showwavespic emits one picture at EOF)."""
    w, h = WAVE_SIZE
    wave = (
        ffmpeg.input(str(src))["a:0"]
        .filter("aformat", channel_layouts="mono")
        .filter("showwavespic", s=f"{w}x{h}", colors="0x1d4ed8", scale="sqrt")
    )
    bg = ffmpeg.input(f"color=c=0xf1f5f9:s={w}x{h}", f="lavfi")
    cmd = (
        ffmpeg.overlay(bg, wave, shortest=1, format="auto")
        .filter("format", "yuvj420p")
        .output(str(dest), vframes=1, **{"q:v": 3})
        .global_args("-loglevel", "error")
        .overwrite_output()
    )
    run_ffmpeg(cmd, None)


def make_poster(
    src: Path, dest: Path, *, duration_s: float, has_video: bool, display_w: int | None, display_h: int | None
) -> bool:
    """Write `dest` (JPEG). A poster is a nicety: failures are logged and reported as False.

    Cancellation (any non-MediaError exception from the progress machinery) still propagates.
    """
    try:
        if has_video and display_w and display_h:
            video_poster(src, dest, duration_s, display_w, display_h)
        else:
            waveform_poster(src, dest)
    except MediaError as exc:
        log.warning("poster for %s failed: %s", src, exc)
        dest.unlink(missing_ok=True)
        return False
    return dest.is_file() and dest.stat().st_size > 0
