"""Poster (not black, not blurred), thumbnails in two sizes, storyboard sprite + WebVTT map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from media import transcode
from media.captions import read_vtt
from media.poster import FrameStats, choose, fit_box, sharpness
from media.storyboard import plan_interval, tile_count
from tests.media_helpers import ffmpeg, ffprobe_json

FAST = {"preset": "ultrafast"}


def dims(path: Path) -> tuple[int, int]:
    s = ffprobe_json(path, "-show_streams")["streams"][0]
    return s["width"], s["height"]


def test_choose_skips_dark_and_blurred_candidates() -> None:
    black = FrameStats(1.0, 12.0, 2.0, 0.0)
    blurred = FrameStats(2.5, 120.0, 60.0, 0.004)
    sharp = FrameStats(5.0, 118.0, 62.0, 0.16)
    later_sharp = FrameStats(6.5, 119.0, 61.0, 0.17)
    assert choose([black, blurred, sharp, later_sharp]) == 5.0  # earliest sharp enough one
    assert choose([black, FrameStats(3.0, 20.0, 3.0, 0.0)]) == 3.0  # all dark: the brightest
    assert choose([blurred]) == 2.5  # only a soft one: better than nothing
    assert choose([]) == 0.0


def test_sharpness_separates_edges_from_blur() -> None:
    w = h = 16
    edges = bytes((255 if (x // 2 + y // 2) % 2 else 0) for y in range(h) for x in range(w))
    ramp = bytes(x * 16 for y in range(h) for x in range(w))  # smooth gradient, same contrast range
    assert sharpness(edges, w, h) > 10 * sharpness(ramp, w, h)
    assert sharpness(bytes(w * h), w, h) == 0.0


def test_fit_box_never_upscales() -> None:
    assert fit_box(1920, 1080, 640, 360) == (640, 360)
    assert fit_box(360, 640, 640, 360) == (202, 360)  # portrait inside a landscape box
    assert fit_box(176, 144, 320, 180) == (176, 144)


def test_storyboard_interval_is_whole_gops_and_bounded() -> None:
    assert plan_interval(13.0, 2.0) == 2.0 and tile_count(13.0, 2.0) == 7
    assert plan_interval(7200.0, 2.0) == 72.0 and tile_count(7200.0, 72.0) == 100  # a 2 h conference
    assert plan_interval(201.0, 2.0) == 4.0


@pytest.fixture(scope="module")
def fade_in_blur(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """13 s: black for 2 s, then out of focus until 6 s, then sharp. Transcoded once."""
    d = tmp_path_factory.mktemp("pictures")
    src = d / "fade.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=13",
        "-vf", "gblur=sigma=8:enable='lt(t,6)',drawbox=c=black:t=fill:enable='lt(t,2)'",
        "-c:v", "libx264", "-preset", "ultrafast", str(src),
    )  # fmt: skip
    out = d / "out"
    transcode(src, out, heights=(360,), **FAST)
    return src, out


def test_poster_is_neither_black_nor_blurred(fade_in_blur: tuple[Path, Path]) -> None:
    src, out = fade_in_blur
    r = transcode(src, out, heights=(360,), **FAST)  # same outputs again: a re-run replaces them
    # Candidates: 1.3 s (black), 3.25 s and 4.55 s (blurred), 6.5 s (sharp) ...
    assert r.poster == "poster.jpg" and r.poster_time_s is not None and r.poster_time_s >= 6.0
    assert dims(out / "poster.jpg") == (640, 360)


def test_thumbnails_in_two_sizes(fade_in_blur: tuple[Path, Path]) -> None:
    _, out = fade_in_blur
    assert dims(out / "thumb-large.jpg") == (640, 360)
    assert dims(out / "thumb-small.jpg") == (320, 180)


def test_storyboard_sprite_and_vtt_map(fade_in_blur: tuple[Path, Path]) -> None:
    _, out = fade_in_blur
    cues = read_vtt(out / "storyboard.vtt")
    assert len(cues) == 7  # a tile every 2 s (every keyframe) over 13 s
    assert dims(out / "storyboard.jpg") == (7 * 160, 90)
    for i, cue in enumerate(cues):
        assert cue["start"] == 2.0 * i
        m = re.fullmatch(r"storyboard\.jpg#xywh=(\d+),(\d+),(\d+),(\d+)", cue["text"])
        assert m and tuple(map(int, m.groups())) == (160 * i, 0, 160, 90)
    assert cues[-1]["end"] == pytest.approx(13.0, abs=0.05)


def test_audio_only_gets_waveform_thumbnails(audio_m4a: Path, tmp_path: Path) -> None:
    r = transcode(audio_m4a, tmp_path, **FAST)
    assert r.storyboard is None
    assert dims(tmp_path / r.thumbnails["large"]) == (640, 180)
    assert dims(tmp_path / r.thumbnails["small"]) == (320, 90)
