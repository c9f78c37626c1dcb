"""Storyboard for seek previews: one sprite image of small frames and a WebVTT map into it.

Players (hls.js custom UIs, Video.js, Plyr, JW Player) read thumbnail tracks as WebVTT whose cue
text is `sprite.jpg#xywh=x,y,w,h`. The frames come from the smallest video rung of the ladder,
decoding keyframes only (`-skip_frame nokey`): the ladder puts a keyframe exactly every GOP, so
a storyboard of a two-hour recording decodes a few thousand small frames, not 180,000 large ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from media.ffprogress import ProgressFn, run_ffmpeg
from media.poster import fit_box
from media.safe_input import own_hls_input

SPRITE_NAME = "storyboard.jpg"
VTT_NAME = "storyboard.vtt"
TILE_BOX = (160, 90)
MAX_TILES = 100
MAX_COLUMNS = 10


@dataclass
class Storyboard:
    image: str  # file names in the output folder
    vtt: str
    interval_s: float
    count: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_interval(duration_s: float, keyframe_s: float, max_tiles: int = MAX_TILES) -> float:
    """Tile interval: a whole number of GOPs (frames are keyframes), at most `max_tiles` tiles."""
    if duration_s <= 0:
        return keyframe_s
    gops = max(1, math.ceil(duration_s / (max_tiles * keyframe_s) - 1e-9))
    return round(gops * keyframe_s, 3)


def tile_count(duration_s: float, interval_s: float) -> int:
    # Frames at 0, interval, 2*interval, ... before the end; the audio often runs a few
    # milliseconds past the last frame, so a tile needs at least 0.1 s of the programme after it.
    return max(1, math.ceil((duration_s - 0.1) / interval_s - 1e-6))


def vtt_text(sb: Storyboard, duration_s: float) -> str:
    lines = ["WEBVTT", ""]
    for i in range(sb.count):
        start = i * sb.interval_s
        end = min((i + 1) * sb.interval_s, duration_s) if i == sb.count - 1 else (i + 1) * sb.interval_s
        if end <= start:
            end = start + 0.001
        x, y = (i % sb.columns) * sb.tile_width, (i // sb.columns) * sb.tile_height
        lines += [f"{_ts(start)} --> {_ts(end)}", f"{sb.image}#xywh={x},{y},{sb.tile_width},{sb.tile_height}", ""]
    return "\n".join(lines)


def make_storyboard(
    video: Path,
    out_dir: Path,
    *,
    duration_s: float,
    width: int,
    height: int,
    keyframe_s: float,
    progress: ProgressFn | None = None,
) -> Storyboard:
    """Write storyboard.jpg and storyboard.vtt into `out_dir` from `video` (keyframes every `keyframe_s`).

    `video` is a rendition playlist the ladder wrote (media.safe_input.own_hls_input refuses others).
    """
    interval = plan_interval(duration_s, keyframe_s)
    count = tile_count(duration_s, interval)
    columns = min(MAX_COLUMNS, count)
    rows = math.ceil(count / columns)
    tw, th = fit_box(width, height, *TILE_BOX)
    # Keyframes sit at exact multiples of keyframe_s; select one every `interval` (a hair of slack
    # for timestamp rounding). tile= pads the last row, and flushes a partly filled sprite at EOF.
    select = f"isnan(prev_selected_t)+gte(t-prev_selected_t,{interval - 0.01:.3f})"
    cmd = (
        own_hls_input(video, skip_frame="nokey")["V:0"]
        .filter("select", select)
        .filter("scale", tw, th)
        .filter("tile", f"{columns}x{rows}")
        .output(str(out_dir / SPRITE_NAME), vframes=1, fps_mode="passthrough", **{"q:v": 4})
        .global_args("-loglevel", "error")
        .overwrite_output()
    )
    run_ffmpeg(cmd, duration_s, progress)
    sb = Storyboard(SPRITE_NAME, VTT_NAME, interval, count, columns, rows, tw, th)
    (out_dir / VTT_NAME).write_text(vtt_text(sb, duration_s), encoding="utf-8")
    return sb


def _ts(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
