"""EBU R128 loudness: the plan (pure) and real outputs checked with an independent ebur128 reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import transcode
from media.loudness import BROADCAST, SOCIAL, Loudness, LoudnessTarget, plan_normalization
from tests.media_helpers import ebur128, make_video, stream_span

FAST = {"preset": "ultrafast"}


def test_plan_linear_when_peaks_allow() -> None:
    plan = plan_normalization(Loudness(-16.24, 0.0, 0.0, -29.25), BROADCAST)
    assert (plan.mode, round(plan.gain_db, 2)) == ("linear", -6.76)


def test_plan_limits_when_the_gain_would_clip() -> None:
    plan = plan_normalization(Loudness(-16.24, 0.0, 0.0, -29.25), SOCIAL)
    assert plan.mode == "limited" and plan.gain_db == pytest.approx(2.24)
    # Headroom for the AAC encoder: a gain that lands exactly on −1 dBTP is already too much.
    assert plan_normalization(Loudness(-20.0, -7.0, 3.0, -30.0), LoudnessTarget("x", -14.0)).mode == "limited"
    assert plan_normalization(Loudness(-20.0, -8.0, 3.0, -30.0), LoudnessTarget("x", -14.0)).mode == "linear"


def test_plan_leaves_silence_and_caps_the_gain() -> None:
    assert plan_normalization(Loudness(None, None, 0.0, -70.0), BROADCAST).mode == "silent"
    quiet = plan_normalization(Loudness(-65.0, -40.0, 2.0, -75.0), BROADCAST)
    assert quiet.gain_db == 30.0  # not +42 dB of noise floor


@pytest.fixture(scope="module")
def grid_clip(shared_video_dir: Path) -> Path:
    src = shared_video_dir / "grid" / "lbax4n.mpg"
    if not src.is_file():
        pytest.skip("GRID clip missing from shared data")
    return src


def test_grid_speech_at_broadcast_level(grid_clip: Path, tmp_path: Path) -> None:
    """GRID speech peaks at 0 dBFS and sits near −16 LUFS: the ladder brings it to −23 LUFS."""
    before, before_peak = ebur128(grid_clip)
    assert before > -20 and before_peak > -0.5  # the hot source the test is about
    r = transcode(grid_clip, tmp_path, heights=(288,), loudness=BROADCAST, pictures=False, **FAST)
    for rel in (r.audio, r.mp4, r.master_playlist, r.renditions[-1].playlist):  # the player hears the shared audio
        integrated, peak = ebur128(tmp_path / rel)
        assert abs(integrated - (-23.0)) <= 1.0, (rel, integrated)
        assert peak <= -1.0, (rel, peak)
    info = r.loudness
    assert info is not None and info["mode"] == "linear" and info["within_target"]
    assert info["input"]["integrated"] == pytest.approx(before, abs=0.2)
    assert abs(info["output"]["integrated"] - ebur128(tmp_path / r.audio)[0]) <= 0.2
    # Normalising does not change the timing.
    assert abs(stream_span(tmp_path / r.audio, "a:0") - 3.0) <= 0.05


def test_quiet_music_is_lifted_to_the_social_level_with_a_limiter(shared_video_dir: Path, tmp_path: Path) -> None:
    """Big Buck Bunny's 5.1 downmix is near −33 LUFS: +19 dB for −14 LUFS only fits under a limiter."""
    src = shared_video_dir / "misc" / "bigbuckbunny.mp4"
    if not src.is_file():
        pytest.skip("bigbuckbunny.mp4 missing from shared data")
    r = transcode(src, tmp_path, heights=(360,), loudness=SOCIAL, pictures=False, **FAST)
    integrated, peak = ebur128(tmp_path / r.audio)
    assert abs(integrated + 14.0) <= 1.0 and peak <= -1.0, (integrated, peak)
    assert r.loudness and r.loudness["mode"] == "limited"


def test_silent_track_is_left_alone(tmp_path: Path) -> None:
    src = tmp_path / "silent-audio.mp4"
    from tests.media_helpers import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=2", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
           "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(src))  # fmt: skip
    r = transcode(src, tmp_path / "out", heights=(180,), loudness=BROADCAST, pictures=False, **FAST)
    assert r.loudness and r.loudness["mode"] == "silent" and r.loudness["input"]["integrated"] is None
    assert r.loudness["output"]["integrated"] is None and not r.loudness["within_target"]


def test_no_loudness_target_keeps_the_old_behaviour(tmp_path: Path) -> None:
    src = make_video(tmp_path / "tone.mp4", duration=2.0, width=320, height=180)
    r = transcode(src, tmp_path / "out", heights=(180,), pictures=False, **FAST)
    assert r.loudness is None and r.poster is None and r.storyboard is None
