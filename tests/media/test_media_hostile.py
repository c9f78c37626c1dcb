"""Hostile input: files that ask ffmpeg to read other files of the server, or its network.

Each case of tests/hostile_media.py is uploaded as it comes (.m3u8, .ffconcat, .txt) and renamed
.mp4; the probe must refuse it with its code, and every other entry point that reads user media
(transcode, trim, loudness, poster, social cut, storyboard, transcription, the recorder's repair
and join) must refuse it or at least never read what it points at: the canary recording and key
are never opened, and the loopback HTTP server gets no request.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from media import MediaError, ProbeResult, probe, transcode
from media import loudness as loud
from media.poster import make_poster
from media.recorder import join_segments, probe_duration, repair_segment
from media.social import make_social_cut
from media.storyboard import make_storyboard
from media.timeline import Timeline
from media.transcode import audio_chain
from tests.hostile_media import CASE_NAMES, HostileCase, Trap, make_payload, open_trap
from transcribe import TranscribeError
from transcribe.audio import load_audio, load_audio_head
from transcribe.chunking import prepare_chunks

# What a caller that skipped the probe (or kept an old one) would pass: "this is an MP4".
CLAIMED_MP4 = ProbeResult(duration_s=2.0, size_bytes=1000, format_name="mov,mp4,m4a,3gp,3g2,mj2", has_video=True,
                          has_audio=True, width=160, height=120, fps=25.0, video_codec="h264", audio_codec="aac",
                          audio_channels=1, audio_sample_rate=48000, rotation=0)


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_payload(tmp_path_factory.mktemp("payload") / "payload.ts").read_bytes()


@pytest.fixture
def trap(tmp_path: Path, payload: bytes) -> Iterator[Trap]:
    t = open_trap(tmp_path / "site", payload)
    yield t
    t.close()


def _write(trap: Trap, case: HostileCase, suffix: str) -> Path:
    path = trap.uploads / f"{case.name}{suffix}"
    path.write_text(case.text, encoding="utf-8")
    return path


def _refuses(call: Callable[[], Any], *errors: type[BaseException]) -> BaseException | None:
    """Run an entry point on hostile input: it must raise one of `errors` (returned), or return
    something falsy (the poster's "no poster")."""
    try:
        result = call()
    except errors as exc:
        return exc
    assert not result, f"accepted hostile input: {result!r}"
    return None


@pytest.mark.parametrize("name", CASE_NAMES)
def test_probe_refuses_by_name_and_by_content(trap: Trap, name: str) -> None:
    case = trap.case(name)
    for suffix in (case.suffix, ".mp4", ".mkv"):
        with pytest.raises(MediaError) as exc:
            probe(_write(trap, case, suffix))
        assert exc.value.code == case.code, (suffix, exc.value.detail)
    assert trap.touched() == trap.untouched()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_entry_point_reads_what_a_hostile_file_points_at(trap: Trap, name: str, tmp_path: Path) -> None:
    case = trap.case(name)
    src = _write(trap, case, ".mp4")
    work = tmp_path / "work"
    work.mkdir()
    whole = Timeline(((0.0, 2.0),))

    # The pipeline's stages, as they are called (each probes first) ...
    assert _refuses(lambda: transcode(src, work / "ladder", preset="ultrafast"), MediaError).code == case.code
    assert _refuses(lambda: make_social_cut(src, work / "social.mp4", whole), MediaError).code == case.code
    # ... and with a probe result that says "MP4" (skipped or stale): ffmpeg itself must refuse.
    _refuses(lambda: transcode(src, work / "ladder", CLAIMED_MP4, preset="ultrafast", pictures=False), MediaError)
    _refuses(lambda: transcode(src, work / "trim", CLAIMED_MP4, preset="ultrafast", pictures=False,
                               timeline=Timeline(((0.2, 0.8), (1.0, 1.8))), loudness=loud.BROADCAST), MediaError)
    _refuses(lambda: make_social_cut(src, work / "social.mp4", whole, probe_result=CLAIMED_MP4), MediaError)
    _refuses(lambda: loud.analyse(lambda: audio_chain(src, None), 2.0), MediaError)
    _refuses(lambda: loud.meter(str(src), 2.0), MediaError)
    _refuses(lambda: make_poster(src, work / "poster.jpg", duration_s=2.0, has_video=True, display_w=160,
                                 display_h=120))
    _refuses(lambda: make_poster(src, work / "wave.jpg", duration_s=2.0, has_video=False, display_w=None,
                                 display_h=None))
    _refuses(lambda: make_storyboard(src, work, duration_s=2.0, width=160, height=120, keyframe_s=2.0), MediaError)
    _refuses(lambda: load_audio_head(src, 30.0), TranscribeError)
    _refuses(lambda: load_audio(src), TranscribeError)
    _refuses(lambda: prepare_chunks(src, work / "chunks"), TranscribeError)
    # The recorder only ever reads its own spool, but a file there must not reach further either.
    spool = work / "spool"
    spool.mkdir()
    segment = shutil.copy(src, spool / "seg-000001.mkv")
    assert probe_duration(Path(segment)) is None
    assert repair_segment(Path(segment)) is None
    _refuses(lambda: join_segments([Path(segment)], spool / "master.mkv"), MediaError)

    assert trap.touched() == trap.untouched()
    assert not (work / "ladder").exists() and not (work / "trim").exists() and not (work / "social.mp4").exists()


def test_a_probe_result_naming_a_playlist_format_is_refused_before_ffmpeg_runs(trap: Trap, tmp_path: Path) -> None:
    src = _write(trap, trap.case("hls-file-url"), ".m3u8")
    hls = replace(CLAIMED_MP4, format_name="hls")
    with pytest.raises(MediaError) as exc:
        transcode(src, tmp_path / "out", hls, preset="ultrafast")
    assert exc.value.code == "playlist"
    with pytest.raises(MediaError) as exc:
        make_social_cut(src, tmp_path / "social.mp4", Timeline(((0.0, 2.0),)), probe_result=hls)
    assert exc.value.code == "playlist"
    assert trap.touched() == trap.untouched()


def test_urls_passed_as_paths_are_local_names(trap: Trap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A caller handing over a string: it names a file in the working folder, never a protocol.
    monkeypatch.chdir(tmp_path)
    secret = trap.recording.path
    for url in (f"concat:{secret}|{secret}", f"subfile,,start,0,end,0,,:{secret}", f"file:{secret}",
                f"{trap.http.url}/x.ts"):
        with pytest.raises(FileNotFoundError):
            probe(url)
        with pytest.raises(TranscribeError):
            load_audio_head(url, 5.0)
        _refuses(lambda url=url: loud.meter(url, 2.0), MediaError)
    assert trap.touched() == trap.untouched()


def test_real_media_still_goes_through_every_entry_point(trap: Trap, tmp_path: Path) -> None:
    # The same payload the canary serves, uploaded honestly as a file of its own: all of it works.
    src = tmp_path / "honest.ts"
    src.write_bytes(trap.payload)
    info = probe(src)
    assert info.format_name == "mpegts" and info.has_video and info.has_audio
    out = transcode(src, tmp_path / "ladder", info, preset="ultrafast", heights=(120,), loudness=loud.BROADCAST,
                    timeline=Timeline(((0.0, 0.8), (1.0, 1.9))))
    assert out.mp4 and out.poster and out.storyboard and abs(out.duration_s - 1.7) < 0.15
    assert load_audio_head(src, 1.0).size == 16_000
    assert abs(load_audio(src).size / 16_000 - 2.0) < 0.1
    assert trap.touched() == trap.untouched()
