"""Edits inside the single-pass ladder, vertical social cuts, and bad input for both."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

import pytest

from media import MediaError, probe, transcode
from media.loudness import BROADCAST
from media.social import make_social_cut
from media.timeline import Timeline, shift_cues
from tests.media_helpers import (
    decode_errors,
    ebur128,
    ffprobe_json,
    frame_gray,
    keyframe_times,
    make_audio,
    make_frame_counter,
    make_video,
    stream_span,
)

FAST = {"preset": "ultrafast"}
FRAME = 1 / 25


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_frame_counter(tmp_path_factory.mktemp("counter") / "counter.mp4", duration=8.0)


def source_frame(path: Path, t: float) -> int:
    """Which source frame the output shows at `t` (the counter source's luma is its frame index)."""
    return round(statistics.fmean(frame_gray(path, t, 16, 16)))


def test_trim_with_a_middle_cut_in_the_single_pass(counter: Path, tmp_path: Path) -> None:
    timeline = Timeline.from_edit(8.0, in_s=1.0, out_s=7.0, cuts=[(3.0, 5.0)], fps=25)  # keeps 1-3 and 5-7
    out = tmp_path / "out"
    r = transcode(counter, out, heights=(180,), timeline=timeline, **FAST)
    assert r.timeline == [[1.0, 3.0], [5.0, 7.0]]
    pl = out / r.renditions[0].playlist
    assert decode_errors(pl) == (0, "")
    for rel in (r.renditions[0].playlist, r.mp4):
        assert abs(stream_span(out / rel, "v:0") - 4.0) <= FRAME + 1e-3, rel
    for rel in (r.renditions[-1].playlist, r.mp4):  # the shared audio rendition, and the download
        assert abs(stream_span(out / rel, "a:0") - 4.0) <= 0.05, rel
    assert abs(r.duration_s - 4.0) <= 0.05
    # Frame-accurate: first frame is source frame 25 (1.0 s); the join goes from 74 straight to 125.
    mp4 = out / r.mp4
    assert source_frame(mp4, 0.0) == 25
    assert source_frame(mp4, 49 * FRAME + 0.001) == 74
    assert source_frame(mp4, 50 * FRAME + 0.001) == 125
    assert source_frame(mp4, 99 * FRAME + 0.001) == 174
    # Keyframes stay on the 2 s grid of the edited timeline.
    keys = keyframe_times(pl)
    assert len(keys) == 2 and round(keys[1] - keys[0], 3) == 2.0
    # The pictures follow the cut too: the storyboard covers 4 s, not 8.
    vtt = (out / "storyboard.vtt").read_text()
    assert vtt.count("#xywh=") == 2 and "00:00:04.000" in vtt


def test_edit_beyond_the_media_is_refused_and_nothing_is_left(counter: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(MediaError) as exc:
        transcode(counter, out, timeline=Timeline(((1.0, 12.0),)), **FAST)
    assert exc.value.code == "trim_out_of_range"
    assert not out.exists()


def test_source_shorter_than_one_segment(tmp_path: Path) -> None:
    src = make_video(tmp_path / "blink.mp4", duration=0.6, width=640, height=360)
    r = transcode(src, tmp_path / "out", heights=(360,), loudness=BROADCAST, **FAST)
    pl = tmp_path / "out" / r.renditions[0].playlist
    assert decode_errors(pl) == (0, "")
    assert (tmp_path / "out" / "hls" / "360p_00000.m4s").is_file()
    assert not (tmp_path / "out" / "hls" / "360p_00001.m4s").exists()  # one short segment
    assert abs(r.duration_s - 0.6) <= 0.1
    assert r.storyboard is not None and r.storyboard["count"] == 1


def test_zero_length_stream_gets_a_clear_code(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    from tests.media_helpers import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000", "-t", "0", str(empty))  # a WAV header, 0 samples
    digest = hashlib.sha256(empty.read_bytes()).hexdigest()
    with pytest.raises(MediaError) as exc:
        transcode(empty, tmp_path / "out", **FAST)
    assert exc.value.code == "no_frames"
    assert not (tmp_path / "out").exists()
    assert hashlib.sha256(empty.read_bytes()).hexdigest() == digest


# --- social cuts -----------------------------------------------------------------------------------

VI_CUES = [
    {"start": 0.2, "end": 1.4, "text": "Đưa nghị quyết của Đảng vào cuộc sống"},
    {"start": 2.9, "end": 3.8, "text": "ngoài đoạn cắt"},
]


def band_brightness(path: Path, t: float) -> float:
    """Share of near-white pixels in the subtitle band (y 1380..1620 of 1920)."""
    px = frame_gray(path, t, 270, 60, crop="1080:240:0:1380")
    return sum(1 for p in px if p >= 200) / len(px)


def test_social_cut_of_a_talking_head(shared_video_dir: Path, tmp_path: Path) -> None:
    """GRID: 360x288 speech that peaks at 0 dBFS -> 1080x1920, −14 LUFS, subtitles burned in."""
    src = shared_video_dir / "grid" / "bbaf2n.mpg"
    if not src.is_file():
        pytest.skip("GRID clip missing from shared data")
    cut = Timeline(((0.4, 2.8),))
    cues = shift_cues([{"start": c["start"] + 0.4, "end": c["end"] + 0.4, "text": c["text"]} for c in VI_CUES], cut)
    assert [c["text"] for c in cues] == ["Đưa nghị quyết của Đảng vào cuộc sống"]  # the other is outside the cut
    dest = tmp_path / "social" / "cut.mp4"
    seen: list[float] = []
    r = make_social_cut(src, dest, cut, mode="centre", cues=cues, progress=seen.append, **FAST)
    info = ffprobe_json(dest)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"], video["codec_name"]) == (1080, 1920, "h264")
    assert abs(float(info["format"]["duration"]) - 2.4) <= 0.1
    assert decode_errors(dest) == (0, "")
    integrated, peak = ebur128(dest)
    assert abs(integrated - (-14.0)) <= 1.0, integrated
    assert peak <= -1.0, peak
    assert r.loudness and r.loudness["mode"] == "limited" and r.loudness["within_target"]
    assert (r.cues, r.font) == (1, "Noto Sans")
    # Subtitle text (white, bold) in the safe band while the cue shows, not after it.
    assert band_brightness(dest, 0.8) > 0.02 > band_brightness(dest, 2.0) * 2
    assert seen[-1] == 100.0 and seen == sorted(seen)
    assert [p.name for p in dest.parent.iterdir()] == ["cut.mp4"]  # no staging leftovers


def test_social_cut_blurred_background_keeps_the_whole_picture(shared_video_dir: Path, tmp_path: Path) -> None:
    src = shared_video_dir / "misc" / "bigbuckbunny.mp4"
    if not src.is_file():
        pytest.skip("bigbuckbunny.mp4 missing from shared data")
    dest = tmp_path / "blur.mp4"
    r = make_social_cut(src, dest, Timeline(((1.0, 3.0),)), mode="blur", **FAST)
    assert (r.width, r.height, r.cues) == (1080, 1920, 0)
    top = frame_gray(dest, 1.0, 108, 40, crop="1080:400:0:0")  # blurred copy above the picture
    middle = frame_gray(dest, 1.0, 108, 60, crop="1080:600:0:660")  # the picture itself (1080x608)
    assert statistics.fmean(top) > 20  # not black bars
    assert statistics.pstdev(top) < statistics.pstdev(middle)  # smoother than the sharp picture
    integrated, peak = ebur128(dest)
    assert abs(integrated + 14.0) <= 1.0 and peak <= -1.0


@pytest.mark.parametrize(
    ("case", "code"),
    [("too_long", "range_too_long"), ("outside", "trim_out_of_range"), ("audio_only", "no_streams")],
)
def test_social_cut_bad_requests(case: str, code: str, small_video: Path, tmp_path: Path) -> None:
    src, timeline = small_video, Timeline(((0.0, 2.0),))
    if case == "too_long":
        timeline = Timeline(((0.0, 60.0), (100.0, 131.0)))
        src = make_video(tmp_path / "long.mp4", duration=1.0, width=64, height=64)  # checked before decoding
    elif case == "outside":
        timeline = Timeline(((1.0, 9.0),))
    else:
        src = make_audio(tmp_path / "voice.m4a", duration=2.0)
    dest = tmp_path / "out" / "cut.mp4"
    with pytest.raises(MediaError) as exc:
        make_social_cut(src, dest, timeline, **FAST)
    assert exc.value.code == code
    assert not dest.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_probe_of_a_social_cut_reports_portrait(tmp_path: Path, small_video: Path) -> None:
    dest = tmp_path / "p.mp4"
    make_social_cut(small_video, dest, Timeline(((0.0, 1.5),)), mode="centre", **FAST)
    pr = probe(dest)
    assert (pr.width, pr.height) == (1080, 1920) and pr.has_audio
