"""Posters and thumbnails: a representative frame that is neither black nor blurred, or a waveform
picture for audio-only sources.

The frame is chosen among a handful of candidate times by looking at small greyscale copies:
near-black or flat frames (fades, slates, a covered lens) are out; among the rest, the earliest
one at least half as sharp as the sharpest candidate wins (a frame caught mid-pan or while the
camera refocuses has little edge energy). Sharpness is the variance of a 3x3 Laplacian divided
by the luma variance, so it measures edges rather than contrast.

Sources are opened under media.safe_input's rules: whatever file is passed, ffmpeg reads only it.
"""

from __future__ import annotations

import logging
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg

from media.errors import MediaError
from media.ffprogress import compile_args, run_ffmpeg
from media.ladder import fit_within
from media.safe_input import user_input

log = logging.getLogger(__name__)

POSTER_MAX_W = 1280
# Thumbnails fit these boxes (never upscaled): cards in lists and the small rows of the portal.
THUMB_BOXES = {"large": (640, 360), "small": (320, 180)}
WAVE_SIZE = (1280, 360)
# Mean luma (0-255, studio black is 16) under which a frame counts as a fade/black slate.
_BLACK_MEAN = 28.0
_FLAT_STDEV = 4.0
# A candidate is "sharp enough" at this share of the sharpest candidate's score.
_SHARP_SHARE = 0.5
_GREY_W, _GREY_H = 192, 108


@dataclass(frozen=True)
class FrameStats:
    t: float
    mean: float
    stdev: float
    sharpness: float

    @property
    def usable(self) -> bool:
        return self.mean >= _BLACK_MEAN and self.stdev >= _FLAT_STDEV


@dataclass
class Pictures:
    poster: str | None  # file name in the output folder
    thumbnails: dict[str, str] = field(default_factory=dict)  # box name -> file name
    time_s: float | None = None  # where the frame was taken (None for a waveform)


def candidate_times(duration_s: float) -> list[float]:
    """~10% in (but at least 1 s when the clip is longer), then 20%..80% as later choices."""
    if duration_s <= 0:
        return [0.0]
    first = max(0.1 * duration_s, 1.0) if duration_s > 1.0 else 0.0
    latest = max(0.0, duration_s - 0.2)  # seeking to the very end may yield no frame at all
    times = [first] + [f * duration_s for f in (0.25, 0.5, 0.35, 0.65, 0.8)]
    out: list[float] = []
    for t in times:
        t = round(min(t, latest), 3)
        if t not in out:
            out.append(t)
    return out


def _grey_frame(src: Path, t: float, w: int = _GREY_W, h: int = _GREY_H) -> bytes | None:
    cmd = (
        user_input(src, ss=t)["V:0"]
        .filter("scale", w, h)
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
    if res.returncode != 0 or len(res.stdout) < w * h:
        return None
    return res.stdout[: w * h]


def frame_luma(src: Path, t: float) -> tuple[float, float] | None:
    """(mean, stdev) luma of a small grey copy of the frame at `t`, None if none decodes."""
    px = _grey_frame(src, t, 64, 36)
    if px is None:
        return None
    values = list(px)
    return statistics.fmean(values), statistics.pstdev(values)


def sharpness(px: bytes, w: int, h: int) -> float:
    """Laplacian variance / luma variance of a w x h greyscale image (0 for a flat one)."""
    if len(px) < w * h or w < 3 or h < 3:
        return 0.0
    lap: list[int] = []
    for y in range(1, h - 1):
        row, up, down = y * w, (y - 1) * w, (y + 1) * w
        for x in range(1, w - 1):
            i = row + x
            lap.append(4 * px[i] - px[i - 1] - px[i + 1] - px[up + x] - px[down + x])
    var = statistics.pvariance(px[: w * h])
    return statistics.pvariance(lap) / var if var > 1e-6 else 0.0


def frame_stats(src: Path, t: float) -> FrameStats | None:
    px = _grey_frame(src, t)
    if px is None:
        return None
    values = list(px)
    return FrameStats(t, statistics.fmean(values), statistics.pstdev(values), sharpness(px, _GREY_W, _GREY_H))


def choose(stats: list[FrameStats]) -> float:
    """Pure: the poster time among measured candidates (see the module docstring)."""
    if not stats:
        return 0.0
    usable = [s for s in stats if s.usable]
    if not usable:
        return max(stats, key=lambda s: s.mean).t  # all dark: the brightest is the least bad
    best = max(s.sharpness for s in usable)
    for s in usable:  # candidate order: earliest first
        if s.sharpness >= _SHARP_SHARE * best:
            return s.t
    return usable[0].t


def candidate_stats(src: Path, times: list[float]) -> list[FrameStats]:
    """FrameStats of every candidate, grabbed by one ffmpeg process (one input seek per time);
    one process per frame when that fails (a seek that finds nothing must not sink the others)."""
    with tempfile.TemporaryDirectory(prefix="poster-") as tmp:
        outs = []
        for i, t in enumerate(times):
            grey = user_input(src, ss=t)["V:0"].filter("scale", _GREY_W, _GREY_H).filter("format", "gray")
            outs.append(grey.output(f"{tmp}/{i}.gray", format="rawvideo", vframes=1))
        argv = compile_args(ffmpeg.merge_outputs(*outs).overwrite_output())
        try:
            res = subprocess.run([argv[0], "-v", "error", "-nostdin", *argv[1:]], capture_output=True, timeout=120,
                                 check=False)
            ok = res.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        stats = []
        for i, t in enumerate(times):
            path = Path(tmp) / f"{i}.gray"
            px = path.read_bytes()[: _GREY_W * _GREY_H] if ok and path.is_file() else None
            if px is not None and len(px) == _GREY_W * _GREY_H:
                values = list(px)
                stats.append(FrameStats(t, statistics.fmean(values), statistics.pstdev(values),
                                        sharpness(px, _GREY_W, _GREY_H)))
            elif (single := frame_stats(src, t)) is not None:
                stats.append(single)
    return stats


def pick_time(src: Path, duration_s: float) -> float:
    return choose(candidate_stats(src, candidate_times(duration_s)))


def video_poster(src: Path, dest: Path, duration_s: float, display_w: int, display_h: int) -> float:
    t = pick_time(src, duration_s)
    w, h = fit_within(display_w, display_h, POSTER_MAX_W)
    # Input-side -ss seeks to the preceding keyframe and decodes up to t: fast and accurate.
    # Autorotation applies here as in the transcode, so the poster is upright too.
    cmd = (
        user_input(src, ss=t)["V:0"]
        .filter("scale", w, h)
        .filter("setsar", "1")
        .output(str(dest), vframes=1, **{"q:v": 3, "update": 1})
        .global_args("-loglevel", "error")
        .overwrite_output()
    )
    run_ffmpeg(cmd, None)
    return t


def waveform_poster(src: Path, dest: Path) -> None:
    """Waveform of the whole track on a light background (showwavespic emits one picture at EOF)."""
    w, h = WAVE_SIZE
    wave = (
        user_input(src)["a:0"]
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


def fit_box(w: int, h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Even size inside box_w x box_h keeping the aspect ratio, never larger than w x h."""
    scale = min(box_w / w, box_h / h, 1.0)
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


def thumbnails(poster: Path, out_dir: Path, size: tuple[int, int]) -> dict[str, str]:
    """The thumbnail sizes, scaled from the poster in one ffmpeg run (a JPEG decodes in no time)."""
    boxes = list(THUMB_BOXES.items())
    src = ffmpeg.input(str(poster))
    split = src.video.filter_multi_output("split", len(boxes))
    outputs, names = [], {}
    for i, (name, (bw, bh)) in enumerate(boxes):
        w, h = fit_box(size[0], size[1], bw, bh)
        fname = f"thumb-{name}.jpg"
        outputs.append(split.stream(i).filter("scale", w, h).output(str(out_dir / fname), vframes=1, **{"q:v": 3}))
        names[name] = fname
    run_ffmpeg(ffmpeg.merge_outputs(*outputs).global_args("-loglevel", "error").overwrite_output(), None)
    return names


def make_pictures(
    src: Path, out_dir: Path, *, duration_s: float, has_video: bool, display_w: int | None, display_h: int | None
) -> Pictures:
    """poster.jpg and the thumbnails in `out_dir`. Pictures are a nicety: a MediaError is logged and
    reported as no poster. Cancellation (any other exception from the progress machinery) propagates.
    """
    dest = out_dir / "poster.jpg"
    t: float | None = None
    try:
        if has_video and display_w and display_h:
            t = video_poster(src, dest, duration_s, display_w, display_h)
            size = fit_within(display_w, display_h, POSTER_MAX_W)
        else:
            waveform_poster(src, dest)
            size = WAVE_SIZE
        if not (dest.is_file() and dest.stat().st_size > 0):
            return Pictures(None)
        return Pictures(dest.name, thumbnails(dest, out_dir, size), t)
    except MediaError as exc:
        log.warning("poster for %s failed: %s", src, exc)
        for name in ["poster.jpg", *(f"thumb-{n}.jpg" for n in THUMB_BOXES)]:
            (out_dir / name).unlink(missing_ok=True)
        return Pictures(None)


def make_poster(
    src: Path, dest: Path, *, duration_s: float, has_video: bool, display_w: int | None, display_h: int | None
) -> bool:
    """Only the poster, at `dest` (kept for callers that want no thumbnails)."""
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
