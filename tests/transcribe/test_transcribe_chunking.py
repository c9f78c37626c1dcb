"""Cutting long recordings at silences: bounded chunks, streaming decode, bad input."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.media_helpers import shared_data_dir
from transcribe import TranscribeError
from transcribe.chunking import decode_and_detect, plan_chunks, prepare_chunks, read_wav
from transcribe.evaluate import join_with_pauses
from transcribe.options import PlanOptions

SPEECH_DIR = (shared_data_dir() or Path("/nonexistent")) / "speech_vi"


def test_plan_cuts_only_in_silences_and_bounds_chunks() -> None:
    # 40 sentences of 3 s with 1 s pauses: 160 s.
    regions = [(4.0 * n, 4.0 * n + 3.0) for n in range(40)]
    options = PlanOptions(max_chunk_s=30.0, min_chunk_s=10.0, target_chunks=8)
    chunks = plan_chunks(regions, 160.0, options)
    assert 5 <= len(chunks) <= 8
    assert all(c.duration <= 30.0 for c in chunks)
    assert [r for c in chunks for r in c.speech] == regions  # every region once, in order
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.end <= b.start  # no overlap: nothing is transcribed twice
        assert a.speech[-1][1] <= a.end and b.speech[0][0] >= b.start  # cuts fall in silences


def test_chunks_share_the_recording_evenly() -> None:
    # 639 s of sentences: 120 s chunks would leave a 49 s remainder, and the worker that takes
    # chunks 1, 3 and 5 would sit idle while the other finishes (workers take jobs in turn).
    regions = [(4.0 * n, 4.0 * n + 3.0) for n in range(160)]
    chunks = plan_chunks(regions, 639.0)
    lengths = [c.duration for c in chunks]
    assert len(chunks) == 6
    assert max(lengths) <= 120.0 and max(lengths) - min(lengths) <= 10.0, lengths
    # A short recording: as many chunks as its target asks, the last one not a sliver.
    lengths = [c.duration for c in plan_chunks([(4.0 * n, 4.0 * n + 3.0) for n in range(37)], 150.0)]
    assert len(lengths) == 4 and min(lengths) >= 30.0, lengths


def test_short_recordings_get_several_chunks_and_silence_none() -> None:
    regions = [(2.0 * n, 2.0 * n + 1.5) for n in range(22)]  # 44 s
    assert len(plan_chunks(regions, 44.0)) >= 2
    assert plan_chunks([], 3600.0) == []


def test_speech_without_pauses_is_still_bounded() -> None:
    regions = [(20.0 * n, 20.0 * (n + 1)) for n in range(30)]  # 10 min, no gap at all
    chunks = plan_chunks(regions, 600.0, PlanOptions(max_chunk_s=60.0))
    assert max(c.duration for c in chunks) <= 2 * 60.0 + 1


@pytest.fixture(scope="module")
def joined(tmp_path_factory) -> tuple[Path, float]:
    files = sorted(SPEECH_DIR.glob("*.wav"))[:4]
    if not files:
        pytest.skip("shared speech data not found")
    dest = tmp_path_factory.mktemp("join") / "joined.wav"
    # 3 s pauses: clear places to cut.
    return dest, join_with_pauses(files, dest, pause_s=3.0)


def test_windowed_vad_matches_whole_file_vad(joined, tmp_path: Path) -> None:
    path, duration = joined
    d1, whole = decode_and_detect(path, tmp_path / "a.wav", PlanOptions(window_s=600.0))
    # Windows shorter than the recording, carried over at the edges, find the same speech.
    d2, windowed = decode_and_detect(path, tmp_path / "b.wav", PlanOptions(window_s=4.0))
    assert d1 == d2 == pytest.approx(duration, abs=0.01)
    assert len(whole) >= 4
    speech = sum(e - s for s, e in whole)
    assert sum(e - s for s, e in windowed) == pytest.approx(speech, rel=0.1)
    assert 0.3 * duration < speech < duration


def test_prepare_writes_chunk_files_with_their_audio(joined, tmp_path: Path) -> None:
    path, duration = joined
    plan, files = prepare_chunks(path, tmp_path / "chunks", PlanOptions(max_chunk_s=20.0, min_chunk_s=5.0))
    assert len(files) == len(plan.chunks) >= 2
    assert not (tmp_path / "chunks" / "recording.16k.wav").exists()  # the full decode is not kept
    whole = read_wav(_decoded(path, tmp_path))
    for chunk, file in zip(plan.chunks, files, strict=True):
        audio = read_wav(file)
        assert len(audio) / 16000 == pytest.approx(chunk.duration, abs=0.01)
        start = int(round(chunk.start * 16000))
        assert np.array_equal(audio[:100], whole[start:start + 100])  # the right samples
    again = type(plan).from_dict(plan.to_dict())
    assert again.chunks == plan.chunks and again.duration_s == plan.duration_s


def _decoded(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "whole.wav"
    decode_and_detect(path, out)
    return out


def test_silence_has_no_chunks(make_media, tmp_path: Path) -> None:
    clip = make_media("silence.m4a", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "30", "-c:a", "aac")
    plan, files = prepare_chunks(clip, tmp_path / "c")
    assert plan.chunks == [] and files == [] and plan.duration_s == pytest.approx(30.0, abs=0.1)


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 100])
def test_unreadable_input_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(TranscribeError) as info:
        prepare_chunks(bad, tmp_path / "c")
    assert info.value.code == "audio_unreadable"


def test_video_without_audio_is_a_clear_error(make_media, tmp_path: Path) -> None:
    clip = make_media("video.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=5", "-t", "2",
                      "-c:v", "libx264", "-preset", "ultrafast")
    with pytest.raises(TranscribeError) as info:
        prepare_chunks(clip, tmp_path / "c")
    assert info.value.code == "audio_unreadable" and "no audio" in info.value.detail


def test_read_wav_rejects_other_formats(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0" * 64)
    with pytest.raises(TranscribeError):
        read_wav(path)
