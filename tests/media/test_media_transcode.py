"""transcode(): the HLS ladder, downloads and poster, checked by decoding what came out."""

from __future__ import annotations

import hashlib
import importlib
import itertools
import subprocess
from pathlib import Path

import m3u8
import pytest

from media import MediaError, ProbeResult, TranscodeResult, probe, transcode
from media.isobmff import top_level_boxes
from tests.media_helpers import (
    decode_errors,
    display_rotation_cw,
    ffmpeg,
    ffprobe_json,
    keyframe_times,
    make_text_as_media,
    make_video,
    mean_volume_db,
    packets,
    stream_span,
    truncate_file,
)

FAST = {"preset": "ultrafast", "pictures": False}  # pictures are tested where they matter (and in test_media_pictures)
WITH_PICTURES = {"preset": "ultrafast"}


def streams_of(path: Path) -> dict[str, dict]:
    """First video and audio stream of a file (ffprobe), keyed 'video'/'audio'."""
    out: dict[str, dict] = {}
    for s in ffprobe_json(path, "-show_streams")["streams"]:
        out.setdefault(s["codec_type"], s)
    return out


def assert_no_leftovers(out: Path) -> None:
    """Nothing from a failed/cancelled run may remain: no outputs, no staging folder."""
    if out.exists():
        leftovers = [p.name for p in out.iterdir()]
        assert leftovers == [], leftovers


# --- the full ladder from a 720p source ------------------------------------------------------------


def test_ladder_never_upscales(transcoded_720p) -> None:
    r: TranscodeResult = transcoded_720p.result
    video = [x for x in r.renditions if x.height is not None]
    assert [(x.width, x.height) for x in video] == [(1280, 720), (854, 480), (640, 360)]  # no 1080
    assert [x.playlist for x in r.renditions] == [
        "hls/720p.m3u8",
        "hls/480p.m3u8",
        "hls/360p.m3u8",
        "hls/audio.m3u8",
    ]
    audio_rung = r.renditions[-1]
    assert (audio_rung.height, audio_rung.width, audio_rung.codecs) == (None, None, "mp4a.40.2")
    assert (r.master_playlist, r.mp4, r.audio) == ("hls/master.m3u8", "download.mp4", "audio.m4a")
    assert r.poster == "poster.jpg"
    for rel in [r.master_playlist, r.mp4, r.audio, r.poster, *(x.playlist for x in r.renditions)]:
        assert (transcoded_720p.out / rel).is_file(), rel
    # Only the published outputs: the staging folder is gone.
    assert sorted(p.name for p in transcoded_720p.out.iterdir()) == [
        "audio.m4a",
        "download.mp4",
        "hls",
        "poster.jpg",
        "storyboard.jpg",
        "storyboard.vtt",
        "thumb-large.jpg",
        "thumb-small.jpg",
    ]
    assert r.to_dict()["renditions"][0]["height"] == 720


def test_every_rendition_decodes_with_full_duration(transcoded_720p) -> None:
    out, r = transcoded_720p.out, transcoded_720p.result
    tolerance = 0.1 + 1 / 25  # ~0.1 s plus one frame of the 25 fps source
    for rend in r.renditions:
        pl = out / rend.playlist
        rc, errors = decode_errors(pl)
        assert rc == 0 and errors == "", f"{rend.playlist}: {errors}"
        if rend.height:
            assert abs(stream_span(pl, "v:0") - 4.0) <= tolerance, rend.playlist
            v = streams_of(pl)["video"]
            assert (v["width"], v["height"]) == (rend.width, rend.height)
            assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
            assert "audio" not in streams_of(pl)  # the sound is encoded once, in the shared audio rendition
        else:
            assert abs(stream_span(pl, "a:0") - 4.0) <= tolerance, rend.playlist
    # Played through the master playlist (ffmpeg's HLS demuxer follows the audio group), picture and
    # sound are both there and decode.
    master = out / r.master_playlist
    assert decode_errors(master) == (0, "")
    assert set(streams_of(master)) == {"video", "audio"}
    assert abs(r.duration_s - 4.0) <= tolerance


def test_keyframes_aligned_across_rungs(transcoded_720p) -> None:
    out, r = transcoded_720p.out, transcoded_720p.result
    lists = {x.playlist: keyframe_times(out / x.playlist) for x in r.renditions if x.height}
    first = next(iter(lists.values()))
    assert all(k == first for k in lists.values()), lists
    # One keyframe every gop_s (2 s) exactly, and no scene-cut extras.
    assert len(first) == 2
    assert [round(b - a, 3) for a, b in itertools.pairwise(first)] == [2.0]


def test_master_playlist_declares_everything(transcoded_720p) -> None:
    out, r = transcoded_720p.out, transcoded_720p.result
    master = m3u8.load(str(out / r.master_playlist))
    assert master.is_variant
    by_uri = {p.uri: p for p in master.playlists}
    assert set(by_uri) == {Path(x.playlist).name for x in r.renditions}
    for rend in r.renditions:
        info = by_uri[Path(rend.playlist).name].stream_info
        assert info.bandwidth == rend.bandwidth > 0
        assert info.average_bandwidth and info.average_bandwidth <= info.bandwidth
        assert info.codecs == rend.codecs
        if rend.height:
            assert info.resolution == (rend.width, rend.height)
            # CODECS and BANDWIDTH cover the video and the shared audio the player also fetches.
            assert info.codecs.startswith("avc1.") and info.codecs.endswith(",mp4a.40.2")
            assert info.frame_rate == 25.0
            assert info.audio == "aud"
        else:
            assert info.resolution is None and info.codecs == "mp4a.40.2"
    (audio_group,) = [m for m in master.media if m.type == "AUDIO"]
    assert (audio_group.group_id, audio_group.uri, audio_group.default) == ("aud", "audio.m3u8", "YES")
    audio_peak = next(x.bandwidth for x in r.renditions if x.height is None)
    for rend in r.renditions:
        if rend.height:
            video_peak = hls_peak(out / rend.playlist)
            assert rend.bandwidth == video_peak + audio_peak
    # BANDWIDTH is a measured peak: it must cover the largest segment of each rendition (with audio).
    for rend in r.renditions:
        media_pl = m3u8.load(str(out / rend.playlist))
        for seg in media_pl.segments:
            size = (out / rend.playlist).parent.joinpath(seg.uri).stat().st_size
            if seg.duration >= media_pl.target_duration / 2:
                assert size * 8 / seg.duration <= rend.bandwidth + 1
        assert media_pl.playlist_type == "vod" and media_pl.is_endlist
        assert media_pl.segment_map and media_pl.segment_map[0].uri.endswith("_init.mp4")  # fMP4/CMAF


def test_mp4_download_is_faststart_top_rung(transcoded_720p) -> None:
    mp4 = transcoded_720p.out / transcoded_720p.result.mp4
    types = [b.type for b in top_level_boxes(mp4)]
    assert types.index("moov") < types.index("mdat"), types
    s = streams_of(mp4)
    assert (s["video"]["width"], s["video"]["height"]) == (1280, 720)
    assert (s["audio"]["codec_name"], s["audio"]["channels"]) == ("aac", 2)
    # Stream copy of the 720p rendition, not a second encode: identical video packet count/sizes.
    assert len(packets(mp4, "v:0")) == len(packets(transcoded_720p.out / "hls/720p.m3u8", "v:0"))


def test_m4a_and_poster(transcoded_720p) -> None:
    out = transcoded_720p.out
    s = streams_of(out / "audio.m4a")
    assert set(s) == {"audio"}
    assert (s["audio"]["codec_name"], s["audio"]["channels"], s["audio"]["sample_rate"]) == (
        "aac",
        2,
        "48000",
    )
    types = [b.type for b in top_level_boxes(out / "audio.m4a")]
    assert types.index("moov") < types.index("mdat")
    poster = streams_of(out / "poster.jpg")["video"]
    assert poster["codec_name"] == "mjpeg" and poster["width"] <= 1280 and poster["height"] == 720


def test_progress_increases_to_100(transcoded_720p) -> None:
    values = transcoded_720p.progress
    assert values[0] >= 0 and values[-1] == 100.0
    assert all(b > a for a, b in itertools.pairwise(values)), values
    assert len(values) >= 4  # intermediate updates while ffmpeg runs, not just start/end


# --- source variants ---------------------------------------------------------------------------


def test_audio_only_source(audio_m4a: Path, tmp_path: Path) -> None:
    # The source sits inside out_dir: transcode must not touch it.
    out = tmp_path / "job"
    out.mkdir()
    src = out / "upload.m4a"
    src.write_bytes(audio_m4a.read_bytes())
    before = hashlib.sha256(src.read_bytes()).hexdigest()

    r = transcode(src, out, **WITH_PICTURES)
    assert [x.playlist for x in r.renditions] == ["hls/audio.m3u8"]
    assert (r.renditions[0].height, r.renditions[0].codecs) == (None, "mp4a.40.2")
    assert r.mp4 is None and r.audio == "audio.m4a"
    assert not (out / "download.mp4").exists()
    assert decode_errors(out / r.renditions[0].playlist) == (0, "")
    assert streams_of(out / "audio.m4a")["audio"]["channels"] == 2  # mono source -> stereo
    wave = streams_of(out / r.poster)["video"]  # waveform picture
    assert (wave["width"], wave["height"]) == (1280, 360)
    master = m3u8.load(str(out / r.master_playlist))
    assert [p.stream_info.codecs for p in master.playlists] == ["mp4a.40.2"]
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before


def test_video_without_audio(video_no_audio: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "audio.m4a").write_bytes(b"stale output of an earlier run")  # must not survive
    r = transcode(video_no_audio, out, **FAST)
    assert r.audio is None and not (out / "audio.m4a").exists()
    assert [x.height for x in r.renditions] == [360]
    assert all(x.codecs.startswith("avc1.") and "mp4a" not in x.codecs for x in r.renditions)
    assert set(streams_of(out / r.mp4)) == {"video"}
    assert decode_errors(out / r.renditions[0].playlist) == (0, "")


def test_rotated_phone_video_comes_out_upright(rotated_video: Path, tmp_path: Path) -> None:
    r = transcode(rotated_video, tmp_path, **WITH_PICTURES)
    (rend,) = [x for x in r.renditions if x.height]
    assert (rend.width, rend.height) == (360, 640)  # portrait "360p": short side 360
    for rel in (rend.playlist, r.mp4):
        v = streams_of(tmp_path / rel)["video"]
        assert (v["width"], v["height"]) == (360, 640)
        assert display_rotation_cw(tmp_path / rel) == 0  # pixels rotated, no matrix left to apply
    poster = streams_of(tmp_path / r.poster)["video"]
    assert (poster["width"], poster["height"]) == (360, 640)


def test_odd_dimensions(tmp_path: Path) -> None:
    src = make_video(tmp_path / "odd.mp4", duration=2.0, width=641, height=361)
    r = transcode(src, tmp_path / "out", **FAST)
    assert [(x.width, x.height) for x in r.renditions if x.height] == [(640, 360)]
    assert decode_errors(tmp_path / "out" / r.renditions[0].playlist) == (0, "")


def test_source_smaller_than_every_rung_keeps_its_size(tmp_path: Path) -> None:
    # Default preset here (the others use ultrafast): the real output is H.264 High profile.
    src = make_video(tmp_path / "qcif.mp4", duration=2.0, width=176, height=144)
    r = transcode(src, tmp_path / "out")
    assert [(x.width, x.height) for x in r.renditions if x.height] == [(176, 144)]
    assert r.renditions[0].codecs.startswith("avc1.64")  # profile_idc 100 = High


def test_vfr_source_becomes_constant_frame_rate(tmp_path: Path) -> None:
    src = make_video(tmp_path / "vfr.mp4", duration=3.0, width=640, height=360, vfr=True)
    src_gaps = {round(b - a, 3) for a, b in _pairs(_pts(src))}
    assert len(src_gaps) > 1  # the fixture really is VFR
    r = transcode(src, tmp_path / "out", **FAST)
    gaps = {round(b - a, 3) for a, b in _pairs(_pts(tmp_path / "out" / r.renditions[0].playlist))}
    assert gaps == {0.04}


def test_surround_is_downmixed_to_stereo(tmp_path: Path) -> None:
    src = make_video(tmp_path / "surround.mp4", duration=2.0, width=640, height=360, channels=6)
    assert probe(src).audio_channels == 6
    r = transcode(src, tmp_path / "out", heights=(360,), **FAST)
    for rel in (r.master_playlist, r.audio, r.mp4):
        a = streams_of(tmp_path / "out" / rel)["audio"]
        assert (a["channels"], a["sample_rate"]) == (2, "48000"), rel
    assert mean_volume_db(tmp_path / "out" / r.audio) > -40  # the downmix kept the sound


def test_bigbuckbunny_51_to_stereo(shared_video_dir: Path, tmp_path: Path) -> None:
    src = shared_video_dir / "misc" / "bigbuckbunny.mp4"
    if not src.is_file():
        pytest.skip("bigbuckbunny.mp4 missing from shared data")
    r = transcode(src, tmp_path, heights=(360,), **FAST)
    assert r.renditions[0].codecs.endswith("mp4a.40.2")
    assert streams_of(tmp_path / r.audio)["audio"]["channels"] == 2
    assert streams_of(tmp_path / r.master_playlist)["audio"]["channels"] == 2
    assert mean_volume_db(tmp_path / r.audio) > -40
    assert abs(r.duration_s - 5.3) < 0.2


def test_grid_mpeg1_talking_head(shared_video_dir: Path, tmp_path: Path) -> None:
    # MPEG-1 + MP2 at 44.1 kHz, 360x288: smaller than the 360p rung -> one rung at 288.
    src = shared_video_dir / "grid" / "bbaf2n.mpg"
    if not src.is_file():
        pytest.skip("GRID clip missing from shared data")
    r = transcode(src, tmp_path, **FAST)
    assert [(x.width, x.height) for x in r.renditions if x.height] == [(360, 288)]
    assert streams_of(tmp_path / r.audio)["audio"]["sample_rate"] == "48000"
    assert decode_errors(tmp_path / r.renditions[0].playlist) == (0, "")


def test_anamorphic_source_gets_square_pixels(shared_video_dir: Path, tmp_path: Path) -> None:
    src = shared_video_dir / "misc" / "carphone_pristine.mp4"  # 176x144, SAR 128:117
    if not src.is_file():
        pytest.skip("carphone_pristine.mp4 missing from shared data")
    r = transcode(src, tmp_path, **FAST)
    v = streams_of(tmp_path / r.renditions[0].playlist)["video"]
    assert (v["width"], v["height"]) == (192, 144)
    assert v.get("sample_aspect_ratio", "1:1") == "1:1"
    assert r.audio is None


# --- failures and cancellation ---------------------------------------------------------------


class JobCancelledError(Exception):
    pass


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """Every ffmpeg process media.ffprogress starts, to check none is left running."""
    procs: list[subprocess.Popen] = []
    real = subprocess.Popen

    def recording(*args, **kwargs):
        p = real(*args, **kwargs)
        if Path(str(p.args[0])).name == "ffmpeg":  # the patch is module-wide: skip ffprobe
            procs.append(p)
        return p

    ffprogress = importlib.import_module("media.ffprogress")
    monkeypatch.setattr(ffprogress.subprocess, "Popen", recording)
    return procs


@pytest.mark.parametrize("cancel_at", ["start", "first_update"])
def test_cancel_from_progress_stops_ffmpeg_and_cleans_up(
    cancel_at: str, small_video: Path, tmp_path: Path, spawned: list[subprocess.Popen]
) -> None:
    out = tmp_path / "out"  # does not exist yet: transcode creates it, so it must remove it
    seen: list[float] = []

    def progress(pct: float) -> None:
        seen.append(pct)
        if cancel_at == "start" or pct > 0:
            raise JobCancelledError

    with pytest.raises(JobCancelledError):
        transcode(small_video, out, progress=progress, **FAST)
    assert spawned, "ffmpeg was never started"
    assert all(p.returncode is not None for p in spawned)  # reaped, nothing left running
    if cancel_at == "start":
        assert seen == [0.0] and spawned[0].returncode != 0  # stopped, not run to completion
    assert not out.exists()


def test_cancel_keeps_unrelated_files(small_video: Path, tmp_path: Path) -> None:
    keep = tmp_path / "notes.txt"
    keep.write_text("of someone else")

    def progress(pct: float) -> None:
        raise JobCancelledError

    with pytest.raises(JobCancelledError):
        transcode(small_video, tmp_path, progress=progress, **FAST)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_corrupt_input(kind: str, small_video: Path, tmp_path: Path) -> None:
    if kind == "text":
        src, code = make_text_as_media(tmp_path / "meeting.mp4"), "not_media"
    else:
        src, code = truncate_file(small_video, tmp_path / "meeting.mp4", 0.4), "truncated"
    digest, mtime = hashlib.sha256(src.read_bytes()).hexdigest(), src.stat().st_mtime_ns
    out = tmp_path / "out"
    with pytest.raises(MediaError) as exc:
        transcode(src, out)
    assert exc.value.code == code
    assert (hashlib.sha256(src.read_bytes()).hexdigest(), src.stat().st_mtime_ns) == (digest, mtime)
    assert_no_leftovers(out)


def test_ffmpeg_failure_is_reported_and_cleaned(audio_m4a: Path, tmp_path: Path) -> None:
    # A stale/wrong probe result claiming video makes ffmpeg itself fail (no video stream to map).
    lie = ProbeResult(**{**probe(audio_m4a).to_dict(), "has_video": True, "width": 640, "height": 360, "fps": 25.0})
    with pytest.raises(MediaError) as exc:
        transcode(audio_m4a, tmp_path / "out", lie, **FAST)
    assert exc.value.code == "ffmpeg_failed"
    assert "matches no streams" in exc.value.detail
    assert_no_leftovers(tmp_path / "out")


def test_rejects_outputs_that_would_overwrite_the_source(small_video: Path, tmp_path: Path) -> None:
    src = tmp_path / "download.mp4"
    src.write_bytes(small_video.read_bytes())
    with pytest.raises(ValueError):
        transcode(src, tmp_path)
    assert src.read_bytes() == small_video.read_bytes()


# --- small utilities ---------------------------------------------------------------------------


def _pts(path: Path) -> list[float]:
    return sorted(float(p["pts_time"]) for p in packets(path, "v:0"))


def _pairs(xs: list[float]) -> list[tuple[float, float]]:
    return list(itertools.pairwise(xs))


def test_helpers_speech_clip(tmp_path: Path) -> None:
    from tests.media_helpers import speech_clip

    clip = speech_clip(tmp_path / "speech.mp4", max_s=6)
    if clip is None:
        pytest.skip("shared speech data is absent")
    r = probe(clip)
    assert r.has_video and r.has_audio and abs(r.duration_s - 6) < 0.1
    assert mean_volume_db(clip) > -40  # real speech, not silence


def test_stray_ffmpeg_helper_raises_readably(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ffmpeg failed"):
        ffmpeg("-i", str(tmp_path / "missing.mp4"), str(tmp_path / "x.mp4"))


def hls_peak(playlist: Path) -> int:
    from media.hls import measure_bandwidth, read_media_playlist

    return measure_bandwidth(read_media_playlist(playlist))[0]
