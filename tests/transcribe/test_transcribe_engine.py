"""transcribe_file on real Vietnamese speech and on awkward inputs."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from types import SimpleNamespace

import jiwer
import pytest

from transcribe import TranscribeError, Transcript, transcribe_file
from transcribe.engine import clean_segments, split_evenly

# The base model is weak on Vietnamese; measured WER is ~0.1-0.4 per file
# with beam 5 + VAD, so this bound only catches real regressions.
MAX_WER = 0.6


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(text.split())


def _check_timestamps(tr: Transcript) -> None:
    prev_start = prev_end = 0.0
    for seg in tr.segments:
        assert 0.0 <= seg.start <= seg.end <= tr.duration_s
        for word in seg.words:
            assert prev_end <= word.start <= word.end <= tr.duration_s
            assert word.start >= prev_start
            prev_start, prev_end = word.start, word.end
        if seg.words:
            assert seg.start == seg.words[0].start and seg.end == seg.words[-1].end


def test_real_utterances(real_transcripts: dict, references: dict[str, str]) -> None:
    assert len(real_transcripts) == 3
    for name, tr in real_transcripts.items():
        error = jiwer.wer(_norm(references[name]), _norm(tr.text))
        assert error < MAX_WER, f"{name}: WER {error:.2f} for {tr.text!r}"
        assert tr.language == "vi"
        assert tr.text == unicodedata.normalize("NFC", tr.text)
        assert tr.segments and all(seg.words for seg in tr.segments)
        _check_timestamps(tr)
        assert tr.model == str(Path(tr.model))  # a path: the fixture passes a folder
        assert tr.settings["compute_type"] == "int8" and tr.settings["beam_size"] == 1


def test_to_dict_round_trip(real_transcripts: dict) -> None:
    tr = next(iter(real_transcripts.values()))
    data = tr.to_dict()
    assert data["text"] == tr.text
    again = Transcript.from_dict(data)
    assert again == tr


def test_silence_is_empty(make_media, model_dir: Path, cpu_opts: dict) -> None:
    clip = make_media("silence.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5")
    tr = transcribe_file(clip, model=model_dir, **cpu_opts)
    assert tr.segments == [] and tr.text == ""
    assert tr.duration_s == pytest.approx(5.0, abs=0.01)
    # Auto-detection on silence would be a guess: no language is reported.
    assert transcribe_file(clip, model=model_dir, language=None, **cpu_opts).language == ""


def test_tone_is_empty(make_media, model_dir: Path, cpu_opts: dict) -> None:
    clip = make_media("tone.wav", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "5")
    assert transcribe_file(clip, model=model_dir, **cpu_opts).segments == []


@pytest.mark.parametrize(
    "content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 50, bytes(range(256)) * 40]
)
def test_corrupt_file_is_audio_unreadable(
    tmp_path: Path, model_dir: Path, cpu_opts: dict, content: bytes
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(TranscribeError) as info:
        transcribe_file(bad, model=model_dir, **cpu_opts)
    assert info.value.code == "audio_unreadable"


def test_missing_file_is_audio_unreadable(tmp_path: Path, model_dir: Path, cpu_opts: dict) -> None:
    with pytest.raises(TranscribeError) as info:
        transcribe_file(tmp_path / "nope.mp3", model=model_dir, **cpu_opts)
    assert info.value.code == "audio_unreadable"


def test_video_without_audio_is_audio_unreadable(make_media, model_dir: Path, cpu_opts: dict) -> None:
    clip = make_media("mute.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1")
    with pytest.raises(TranscribeError) as info:
        transcribe_file(clip, model=model_dir, **cpu_opts)
    assert info.value.code == "audio_unreadable"


def test_one_second_clip(
    make_media, speech_dir: Path, references: dict, model_dir: Path, cpu_opts: dict
) -> None:
    clip = make_media("short.wav", "-i", str(speech_dir / "ref_example_3.wav"), "-t", "1")
    tr = transcribe_file(clip, model=model_dir, **cpu_opts)
    assert tr.duration_s == pytest.approx(1.0, abs=0.02)
    assert tr.language == "vi"
    _check_timestamps(tr)


def test_video_file_auto_language_and_progress(
    make_media, speech_dir: Path, references: dict, model_dir: Path, cpu_opts: dict
) -> None:
    # Speech muxed into an MP4 with a video track, as a recorded meeting would be.
    source = speech_dir / "ref_example_2.wav"
    video = make_media(
        "meeting.mp4",
        *("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-i", str(source)),
        *("-shortest", "-c:v", "libx264", "-c:a", "aac", "-pix_fmt", "yuv420p"),
    )
    seen: list[float] = []
    tr = transcribe_file(video, model=model_dir, language=None, progress=seen.append, **cpu_opts)
    assert tr.language == "vi"
    assert jiwer.wer(_norm(references[source.name]), _norm(tr.text)) < MAX_WER
    assert seen[0] == 0.0 and seen[-1] == 100.0 and len(seen) >= 3
    assert seen == sorted(seen) and all(0.0 <= p <= 100.0 for p in seen)


def test_progress_exception_propagates(
    speech_dir: Path, references: dict, model_dir: Path, cpu_opts: dict
) -> None:
    class Cancelled(Exception):
        pass

    def progress(percent: float) -> None:
        if percent > 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        transcribe_file(speech_dir / "ref_example_3.wav", model=model_dir, progress=progress, **cpu_opts)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        transcribe_file(tmp_path / "x.wav", language="klingon")
    with pytest.raises(ValueError):
        transcribe_file(tmp_path / "x.wav", task="summarise")


def _raw(text: str, start: float, end: float, *, nsp: float = 0.01, lp: float = -0.3, words=None):
    """A stand-in for faster-whisper's Segment."""
    return SimpleNamespace(text=text, start=start, end=end, no_speech_prob=nsp, avg_logprob=lp, words=words)


def _w(word: str, start: float, end: float):
    return SimpleNamespace(word=word, start=start, end=end, probability=0.9)


def test_clean_segments_guards_and_normalises() -> None:
    nfd = unicodedata.normalize("NFD", " Tiếng Việt ")
    raw = [
        _raw(
            nfd,
            0.0,
            1.0,
            words=[_w(" " + unicodedata.normalize("NFD", "Tiếng"), 0.0, 0.5), _w(" Việt", 0.4, 1.2)],
        ),
        _raw(" tiếng việt!", 1.2, 2.0),  # the same line again: a Whisper loop
        _raw(" ♪ ♪", 2.0, 3.0),  # symbols only
        _raw(" ừm", 3.0, 4.0, nsp=0.9, lp=-1.5),  # confident "no speech"
        _raw(" Hãy subscribe cho kênh Ghiền Mì Gõ", 4.0, 5.0),
        _raw(" Xin chào", 9.5, 12.0),  # runs past the end of the audio
    ]
    segs = clean_segments(raw, duration=10.0)
    assert [s.text for s in segs] == [unicodedata.normalize("NFC", "Tiếng Việt"), "Xin chào"]
    first = segs[0]
    assert first.words[0].text == unicodedata.normalize("NFC", "Tiếng")
    assert first.words[1].start == 0.5  # overlap removed
    assert first.start == 0.0 and first.end == 1.2  # segment spans its words
    assert segs[1].end == 10.0


def test_split_evenly_keeps_order_and_balances_speech() -> None:
    pieces = [(0.0, 10.0), (11.0, 20.0), (21.0, 25.0), (26.0, 40.0)]
    groups = split_evenly(pieces, 2)
    assert [p for g in groups for p in g] == pieces and len(groups) == 2
    assert groups[0][-1][1] <= groups[1][0][0]   # consecutive runs: merged segments stay in time order
    assert split_evenly(pieces[:1], 2) == [pieces[:1]] and split_evenly([], 2) == []


def test_replicas_decode_side_by_side_with_the_same_result(model_dir: Path, speech_dir: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    import threading

    from faster_whisper import BatchedInferencePipeline

    from transcribe.evaluate import join_with_pauses
    from transcribe.options import DecodeOptions

    # The threads that ran a batched decode (the engine imports the pipeline where it decodes).
    decoded_by: set[int] = set()

    class WatchedPipeline(BatchedInferencePipeline):
        def transcribe(self, *args, **kwargs):
            decoded_by.add(threading.get_ident())
            return super().transcribe(*args, **kwargs)
    monkeypatch.setattr("faster_whisper.BatchedInferencePipeline", WatchedPipeline)

    joined = tmp_path / "joined.wav"
    join_with_pauses(sorted(speech_dir.glob("*.wav"))[:6], joined, pause_s=2.5)
    options = DecodeOptions(language="vi", decoder="batched")
    one = transcribe_file(joined, options=options, model=model_dir, device="cpu", compute_type="int8", cpu_threads=1)
    assert decoded_by == {threading.get_ident()}   # one replica: decoded here
    decoded_by.clear()
    two = transcribe_file(joined, options=options, model=model_dir, device="cpu", compute_type="int8", cpu_threads=1,
                          replicas=2)
    assert two.settings["replicas"] == 2 and one.settings["replicas"] == 1
    # Two groups on two other threads (a re-decode of uncovered speech may add another pool).
    assert len(decoded_by - {threading.get_ident()}) >= 2, decoded_by
    assert len(one.segments) >= 2
    assert [s.text for s in two.segments] == [s.text for s in one.segments]
    starts = [s.start for s in two.segments]
    assert starts == sorted(starts)


def test_plan_threads_gives_a_cpu_worker_two_replicas_only_when_it_has_all_cores(monkeypatch) -> None:
    from transcribe.engine import plan_threads

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert plan_threads("cpu", 0, 0) == (4, 2)            # all cores, batched: two replicas of half each
    assert plan_threads("cpu", 0, 0, "sequential") == (0, 1)  # nothing to split: one model, all cores
    assert plan_threads("cpu", 2, 0) == (2, 1)            # threads named by the operator: as asked
    assert plan_threads("cpu", 0, 3) == (2, 3)            # replicas named: the cores shared out
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert plan_threads("cpu", 0, 0) == (0, 1)
