"""probe(): facts about real files, and the MediaError codes for inputs a user must fix."""

from __future__ import annotations

import importlib
import json
import pickle
from pathlib import Path

import pytest

from media import MediaError, ProbeResult, probe
from media.isobmff import top_level_boxes
from tests.media_helpers import (
    add_cover_art,
    ffmpeg,
    make_text_as_media,
    make_video,
    truncate_file,
)


def test_normal_video(small_video: Path) -> None:
    r = probe(small_video)
    assert isinstance(r, ProbeResult)
    assert (r.has_video, r.has_audio) == (True, True)
    assert (r.width, r.height, r.rotation) == (640, 360, 0)
    assert r.fps == 25.0
    assert (r.video_codec, r.audio_codec) == ("h264", "aac")
    assert (r.audio_channels, r.audio_sample_rate) == (2, 48000)
    assert abs(r.duration_s - 3.0) < 0.1
    assert r.size_bytes == small_video.stat().st_size
    assert "mp4" in r.format_name
    # to_dict is what the orchestrator stores (JSON column): it must serialise as-is.
    assert json.loads(json.dumps(r.to_dict())) == r.to_dict()


def test_audio_only(audio_m4a: Path) -> None:
    r = probe(audio_m4a)
    assert (r.has_video, r.has_audio) == (False, True)
    assert r.width is r.height is r.fps is r.video_codec is None
    assert r.audio_codec == "aac" and r.audio_channels == 1
    assert abs(r.duration_s - 3.0) < 0.1


def test_cover_art_does_not_make_a_video(audio_m4a: Path, tmp_path: Path) -> None:
    # Music/podcast files carry album art as a one-picture "video" stream.
    r = probe(add_cover_art(audio_m4a, tmp_path / "with-cover.m4a"))
    assert (r.has_video, r.has_audio) == (False, True)


def test_video_only(video_no_audio: Path) -> None:
    r = probe(video_no_audio)
    assert (r.has_video, r.has_audio) == (True, False)
    assert r.audio_codec is r.audio_channels is r.audio_sample_rate is None


def test_rotated_phone_video_reports_display_dims(rotated_video: Path) -> None:
    r = probe(rotated_video)
    assert r.rotation == 90
    assert (r.width, r.height) == (360, 640)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(MediaError) as exc:
        probe(empty)
    assert exc.value.code == "empty_file"


def test_text_renamed_mp4_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as exc:
        probe(make_text_as_media(tmp_path / "minutes.mp4"))
    assert exc.value.code == "not_media"


def test_missing_file_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.mp4")


def test_truncated_mp4_with_moov_at_end(small_video: Path, tmp_path: Path) -> None:
    # ffmpeg writes moov last by default: cutting the file loses the index entirely. ffprobe then
    # fails, but the ftyp header says "MP4", so we report "truncated" (not "not_media").
    assert [b.type for b in top_level_boxes(small_video)].index("moov") > 0
    cut = truncate_file(small_video, tmp_path / "cut.mp4", 0.4)
    with pytest.raises(MediaError) as exc:
        probe(cut)
    assert exc.value.code == "truncated"


def test_truncated_faststart_mp4(small_video: Path, tmp_path: Path) -> None:
    # With moov first ffprobe reads the full index and reports the full duration; only the box
    # sizes reveal that mdat was cut.
    fast = tmp_path / "fast.mp4"
    ffmpeg("-i", str(small_video), "-c", "copy", "-movflags", "+faststart", str(fast))
    cut = truncate_file(fast, tmp_path / "cut-fast.mp4", 0.4)
    with pytest.raises(MediaError) as exc:
        probe(cut)
    assert exc.value.code == "truncated"
    assert "mdat" in exc.value.detail


def test_odd_dimensions(tmp_path: Path) -> None:
    r = probe(make_video(tmp_path / "odd.mp4", duration=1.0, width=641, height=361, audio=False))
    assert (r.width, r.height) == (641, 361)


def test_media_error_contract() -> None:
    err = MediaError("not_media", "ffprobe: Invalid data")
    assert (err.code, err.detail) == ("not_media", "ffprobe: Invalid data")
    assert "not_media" in str(err)
    # RQ pickles job exceptions: code and detail must survive.
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.detail) == (err.code, err.detail)


@pytest.mark.parametrize(
    ("rel", "expect"),
    [
        # 5.1 AAC, 720p: the downmix source used by the transcode tests.
        ("misc/bigbuckbunny.mp4", {"width": 1280, "height": 720, "audio_channels": 6, "has_audio": True}),
        # Anamorphic QCIF (SAR 128:117): display width 176*128/117 = 193.
        ("misc/carphone_pristine.mp4", {"width": 193, "height": 144, "has_audio": False}),
        ("misc/cityCC0.mpg", {"width": 720, "height": 405, "video_codec": "mpeg2video", "has_audio": False}),
        ("grid/bbaf2n.mpg", {"width": 360, "height": 288, "audio_codec": "mp2", "audio_sample_rate": 44100}),
    ],
)
def test_shared_recordings(shared_video_dir: Path, rel: str, expect: dict) -> None:
    path = shared_video_dir / rel
    if not path.is_file():
        pytest.skip(f"{rel} missing from shared data")
    got = probe(path).to_dict()
    assert {k: got[k] for k in expect} == expect


def test_no_audio_or_video_streams(tmp_path: Path) -> None:
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nXin chào\n", encoding="utf-8")
    subs_only = tmp_path / "subs.mkv"
    ffmpeg("-i", str(srt), str(subs_only))
    with pytest.raises(MediaError) as exc:
        probe(subs_only)
    assert exc.value.code == "no_streams"


def test_too_large_dimensions(tmp_path: Path) -> None:
    huge = tmp_path / "wide.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=size=8200x16:duration=0.04", "-c:v", "ffv1", str(huge))
    with pytest.raises(MediaError) as exc:
        probe(huge)
    assert exc.value.code == "too_large_dimensions"


def test_undecodable_codec(small_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Real undecodable files are hard to make; pretend this ffmpeg build lacks an H.264 decoder.
    # importlib: `media.probe` as an attribute is the function re-exported by media/__init__.
    mp = importlib.import_module("media.probe")
    monkeypatch.setattr(mp, "_decodable_codecs", lambda: frozenset({"aac"}))
    with pytest.raises(MediaError) as exc:
        probe(small_video)
    assert exc.value.code == "unsupported_codec"
