"""The small building blocks: ffmpeg runner, ladder planning, HLS measurement, poster frame choice."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import ffmpeg as ffmpeg_python
import pytest

from media import MediaError
from media.ffprogress import classify_failure, percent_from_progress, run_ffmpeg
from media.hls import Variant, avc_codec_string, master_playlist_text, measure_bandwidth, read_media_playlist
from media.ladder import maxrate_for, output_fps, plan_rungs
from media.poster import candidate_times, frame_luma, pick_time
from tests.media_helpers import ffmpeg

# --- ffprogress --------------------------------------------------------------------------------


def test_percent_from_progress_lines() -> None:
    assert percent_from_progress("out_time_us", "1500000", 3.0) == 50.0
    assert percent_from_progress("out_time_ms", "3000000", 3.0) == 100.0  # also microseconds
    assert percent_from_progress("out_time_us", "9000000", 3.0) == 100.0  # clamped
    assert percent_from_progress("out_time_us", "N/A", 3.0) is None
    assert percent_from_progress("frame", "10", 3.0) is None
    assert percent_from_progress("out_time_us", "1000000", None) is None


def test_run_ffmpeg_with_ffmpeg_python_node(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    node = (
        ffmpeg_python.input("testsrc2=size=160x120:rate=25:duration=3", f="lavfi")
        .output(str(out), vcodec="libx264", preset="ultrafast")
        .overwrite_output()
    )
    seen: list[float] = []
    run_ffmpeg(node, 3.0, seen.append)
    assert out.is_file()
    assert seen[0] == 0.0 and seen[-1] == 100.0
    assert all(b > a for a, b in itertools.pairwise(seen))


def test_run_ffmpeg_failure_carries_stderr_tail(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as exc:
        run_ffmpeg(["ffmpeg", "-i", str(tmp_path / "missing.mp4"), str(tmp_path / "o.mp4")], None)
    assert exc.value.code == "ffmpeg_failed"
    assert "No such file or directory" in exc.value.detail
    assert not (tmp_path / "o.mp4").exists()


def test_run_ffmpeg_survives_a_flood_of_stderr(tmp_path: Path) -> None:
    # -loglevel debug prints far more than a pipe buffer holds: must not deadlock.
    cmd = ["ffmpeg", "-loglevel", "debug", "-f", "lavfi", "-i", "testsrc2=size=64x48:duration=2"]
    run_ffmpeg([*cmd, "-f", "null", "-"], 2.0)


def test_classify_failure() -> None:
    assert classify_failure(["[foo] Decoder (codec vp7) not found for input stream #0:0"]) == "unsupported_codec"
    assert classify_failure(["moov atom not found"]) == "truncated"
    assert classify_failure(["Conversion failed!"]) == "ffmpeg_failed"


# --- ladder ------------------------------------------------------------------------------------


def test_plan_rungs() -> None:
    ladder = (1080, 720, 480, 360)
    full = [(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    assert [(r.width, r.height) for r in plan_rungs(1920, 1080, ladder)] == full
    assert [r.name for r in plan_rungs(1280, 720, ladder)] == ["720p", "480p", "360p"]
    # Portrait: rung = short side, so a 1080x1920 phone clip keeps full detail at "1080p".
    assert [(r.width, r.height) for r in plan_rungs(1080, 1920, ladder)][:2] == [(1080, 1920), (720, 1280)]
    assert [(r.width, r.height) for r in plan_rungs(641, 361, ladder)] == [(640, 360)]
    assert [(r.width, r.height) for r in plan_rungs(175, 143, ladder)] == [(174, 142)]  # even, not upscaled
    assert [r.maxrate for r in plan_rungs(1280, 720, ladder)] == [3_000_000, 1_500_000, 800_000]


def test_maxrate_interpolates() -> None:
    assert maxrate_for(540) == 1_500_000 + (3_000_000 - 1_500_000) * 60 // 240
    assert maxrate_for(100) == 250_000 and maxrate_for(4320) == 16_000_000


@pytest.mark.parametrize(
    ("src", "expect"),
    [
        (None, Fraction(25)),
        (25.0, Fraction(25)),
        (29.97, Fraction(30000, 1001)),  # probe rounds; the exact NTSC rate is restored
        (24.744, Fraction(25)),  # a VFR clip's average snaps to the nearest standard rate
        (59.94, Fraction(30000, 1001)),
        (60.0, Fraction(30)),
        (50.0, Fraction(25)),
        (120.0, Fraction(30)),
        (7.5, Fraction(15, 2)),
    ],
)
def test_output_fps(src: float | None, expect: Fraction) -> None:
    assert output_fps(src) == expect


# --- hls -------------------------------------------------------------------------------------


def _fake_rendition(tmp_path: Path, sizes_durations: list[tuple[int, float]]) -> Path:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4", '#EXT-X-MAP:URI="v_init.mp4"']
    for i, (size, dur) in enumerate(sizes_durations):
        (tmp_path / f"v_{i}.m4s").write_bytes(b"\0" * size)
        lines += [f"#EXTINF:{dur:.6f},", f"v_{i}.m4s"]
    pl = tmp_path / "v.m3u8"
    pl.write_text("\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    return pl


def test_measure_bandwidth_ignores_a_tiny_tail_segment(tmp_path: Path) -> None:
    # 1.2 then 0.8 Mbit/s over 4 s each, then a 0.04 s tail that alone would look like 10 Mbit/s.
    pl = read_media_playlist(_fake_rendition(tmp_path, [(600_000, 4.0), (400_000, 4.0), (50_000, 0.04)]))
    assert pl.init == "v_init.mp4" and len(pl.segments) == 3
    peak, avg = measure_bandwidth(pl)
    assert peak == 1_200_000  # the tail is shorter than half a target duration: not a window of its own
    assert avg == math.ceil(1_050_000 * 8 / 8.04)


def test_master_text_round_trips_through_m3u8(tmp_path: Path) -> None:
    import m3u8

    text = master_playlist_text(
        [
            Variant("480p.m3u8", 900_000, 700_000, "avc1.64001e,mp4a.40.2", (854, 480), Fraction(25)),
            Variant("audio.m3u8", 140_000, 130_000, "mp4a.40.2"),
        ]
    )
    master = m3u8.loads(text)
    a, b = master.playlists
    assert (a.stream_info.bandwidth, a.stream_info.resolution, a.stream_info.codecs) == (
        900_000,
        (854, 480),
        "avc1.64001e,mp4a.40.2",
    )
    assert (b.stream_info.bandwidth, b.stream_info.resolution) == (140_000, None)


def test_avc_codec_string(tmp_path: Path) -> None:
    init = tmp_path / "init.mp4"
    init.write_bytes(b"\0\0\0\x10avcC\x01\x64\x00\x1f\xff\xe1")
    assert avc_codec_string(init) == "avc1.64001f"
    init.write_bytes(b"nothing here")
    with pytest.raises(ValueError):
        avc_codec_string(init)


# --- poster ----------------------------------------------------------------------------------


def test_candidate_times() -> None:
    assert candidate_times(60.0) == [6.0, 15.0, 30.0, 21.0, 39.0, 48.0]
    assert candidate_times(6.0)[0] == 1.0  # at least 1 s in
    assert candidate_times(0.8) == [0.0, 0.2, 0.4, 0.28, 0.52, 0.6]
    assert candidate_times(0.0) == [0.0]


def test_poster_skips_black_opening(tmp_path: Path) -> None:
    src = tmp_path / "fade.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=6",
        "-vf", "drawbox=c=black:t=fill:enable='lt(t,2)'", "-c:v", "libx264", "-preset", "ultrafast", str(src),
    )  # fmt: skip
    dark = frame_luma(src, 1.0)
    assert dark is not None and dark[0] < 20
    assert pick_time(src, 6.0) == 3.0  # 1.0 and 1.5 are black; 50% is the first real picture
