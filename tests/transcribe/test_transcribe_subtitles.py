"""Cue building rules (property-style) and VTT/SRT output."""

from __future__ import annotations

import html
import random
import unicodedata
from pathlib import Path

import pytest
import webvtt

from transcribe import Cue, Segment, Transcript, Word, build_cues, cues_to_text, write_srt, write_vtt
from transcribe.subtitles import cue_chars, wrap_lines

OPTS = {"max_line_chars": 42, "max_lines": 2, "max_cps": 17.0, "min_s": 1.0, "max_s": 7.0}
EPS = 2e-3  # cue times are rounded to the millisecond
_SYLLABLE_TEXT = (
    "anh chị em chúng ta có thể áp dụng logic tương tự với người khác trong phòng rất "
    "tù mù nên dễ dàng che dấu nó bạn cầm khúc cây và ném vào bãi cỏ xanh tươi rậm "
    "rạp ở đằng xa cuối thế kỷ ngành đánh bắt cá được thương mại hóa nghiêng nguyễn"
)
SYLLABLES = _SYLLABLE_TEXT.split()


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _all_words(tr: Transcript) -> list[str]:
    words = []
    for seg in tr.segments:
        items = [w.text for w in seg.words] if seg.words else seg.text.split()
        words.extend(_nfc(w).strip() for w in items)
    return [w for w in words if w]


def _word_times(tr: Transcript) -> list[tuple[float, float]]:
    return [(w.start, w.end) for seg in tr.segments for w in seg.words]


def check_cues(tr: Transcript, cues: list[Cue], opts: dict = OPTS) -> None:
    """The rules every cue list must keep, whatever the input."""
    words = _all_words(tr)
    assert [w for cue in cues for w in cue.text.split()] == words, "words lost, split or reordered"
    longest_word = max((len(w) for w in words), default=0)
    times = _word_times(tr)
    index = 0
    prev_end = 0.0
    for k, cue in enumerate(cues):
        assert cue.text == _nfc(cue.text)
        lines = cue.text.split("\n")
        assert 1 <= len(lines) <= opts["max_lines"]
        assert all(line and line == line.strip() for line in lines)
        assert all(len(line) <= max(opts["max_line_chars"], longest_word) for line in lines)
        if len(" ".join(lines)) <= opts["max_line_chars"]:
            assert len(lines) == 1, "a cue that fits one line must use one line"
        if len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) > longest_word + 1:
            assert lines[0][-1] in ".,?!;:", f"unbalanced lines without punctuation: {lines}"

        assert prev_end - EPS <= cue.start < cue.end, "cues overlap or are empty"
        duration = cue.end - cue.start
        assert duration <= opts["max_s"] + EPS
        nxt = cues[k + 1].start if k + 1 < len(cues) else max(tr.duration_s, cue.end)
        boxed_in = cue.end >= nxt - EPS  # nothing more can be gained after the cue
        if duration < opts["min_s"] - EPS:
            assert boxed_in and cue.start <= prev_end + EPS, f"short cue with room: {cue}"
        if cue_chars(cue.text) / duration > opts["max_cps"] + 0.05:
            assert boxed_in or duration >= opts["max_s"] - EPS, f"too fast with room: {cue}"

        count = len(cue.text.split())
        if times:  # the cue is on screen while its words are spoken
            first, last = times[index], times[index + count - 1]
            assert cue.start <= first[0] + EPS
            assert cue.end >= min(last[1], cue.start + opts["max_s"]) - EPS
        index += count
        prev_end = cue.end


def _random_transcript(rng: random.Random, n_words: int) -> Transcript:
    t = rng.uniform(0, 2)
    segments, words = [], []
    for _ in range(n_words):
        text = rng.choice(SYLLABLES)
        if rng.random() < 0.1:
            text = text.capitalize()
        if rng.random() < 0.12:
            text += rng.choice(".,?!")
        if rng.random() < 0.2:
            text = unicodedata.normalize("NFD", text)  # must come out NFC
        speed = rng.choice([0.05, 0.15, 0.25, 0.4])  # some speakers are too fast to read
        duration = 0.0 if rng.random() < 0.03 else rng.uniform(0.5, 1.5) * speed
        words.append(Word(round(t, 3), round(t + duration, 3), text, 0.9))
        t += duration
        r = rng.random()
        t += rng.uniform(0.6, 3.0) if r < 0.07 else rng.uniform(0, 0.1) if r < 0.5 else 0.0
        if rng.random() < 0.08 or text[-1] in ".?!":
            segments.append(_segment(words))
            words = []
    if words:
        segments.append(_segment(words))
    return Transcript("vi", round(t + rng.uniform(0, 2), 3), segments, "test", {})


def _segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, words[-1].end, " ".join(w.text for w in words), list(words))


@pytest.mark.parametrize("seed", range(60))
def test_random_transcripts_keep_the_rules(seed: int) -> None:
    rng = random.Random(seed)
    tr = _random_transcript(rng, rng.choice([1, 3, 20, 150]))
    check_cues(tr, build_cues(tr))


@pytest.mark.parametrize("seed", range(10))
def test_other_limits(seed: int) -> None:
    rng = random.Random(1000 + seed)
    tr = _random_transcript(rng, 120)
    opts = {"max_line_chars": 32, "max_lines": 3, "max_cps": 12.0, "min_s": 1.5, "max_s": 5.0}
    check_cues(tr, build_cues(tr, **opts), opts)


def test_segment_level_fallback() -> None:
    rng = random.Random(7)
    tr = _random_transcript(rng, 120)
    for seg in tr.segments:
        seg.words = []
    cues = build_cues(tr)
    check_cues(tr, cues)
    assert cues[0].start >= tr.segments[0].start - EPS


def _timed(text: str, start: float, step: float = 0.3) -> list[Word]:
    return [
        Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), w, 0.9)
        for i, w in enumerate(text.split())
    ]


def _transcript(*word_lists: list[Word]) -> Transcript:
    segs = [_segment(ws) for ws in word_lists]
    return Transcript("vi", segs[-1].end + 1.0, segs, "test", {})


def test_breaks_at_a_pause() -> None:
    tr = _transcript(_timed("xin chào các bạn", 0.0), _timed("hôm nay trời đẹp", 2.2))
    cues = build_cues(tr)
    assert [c.text for c in cues] == ["xin chào các bạn", "hôm nay trời đẹp"]
    check_cues(tr, cues)


def test_prefers_sentence_end() -> None:
    words = _timed(
        "Chúng ta có thể áp dụng logic tương tự. Bạn cầm khúc cây và ném vào bãi cỏ xanh tươi "
        "rậm rạp ở đằng xa, rồi chạy thật nhanh về nhà.",
        0.0,
        0.25,
    )
    tr = _transcript(words)
    cues = build_cues(tr)
    check_cues(tr, cues)
    ends = [line.split()[-1] for cue in cues for line in cue.text.split("\n")]
    assert "tự." in ends


def test_long_word_alone() -> None:
    url = "https://example.com/" + "x" * 40
    tr = _transcript(_timed(f"xem tại {url} nhé", 0.0, 0.5))
    cues = build_cues(tr)
    check_cues(tr, cues)
    assert any(line == url for cue in cues for line in cue.text.split("\n"))


def test_empty_transcript() -> None:
    assert build_cues(Transcript("vi", 3.0, [], "test", {})) == []
    assert cues_to_text([]) == ""


def test_wrap_lines_balances() -> None:
    text = "một hai ba bốn năm sáu bảy tám chín mười mười một mười hai"
    words = text.split()
    lines = wrap_lines(words, 42, 2)
    assert len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) <= 6
    assert wrap_lines(["ngắn", "thôi"], 42, 2) == ["ngắn thôi"]


def test_real_transcripts(real_transcripts: dict) -> None:
    merged, offset = [], 0.0
    for tr in real_transcripts.values():
        cues = build_cues(tr)
        check_cues(tr, cues)
        assert cues_to_text(cues) == tr.text
        for seg in tr.segments:
            merged.append(
                Segment(
                    seg.start + offset,
                    seg.end + offset,
                    seg.text,
                    [Word(w.start + offset, w.end + offset, w.text, w.probability) for w in seg.words],
                )
            )
        offset += tr.duration_s
    long_tr = Transcript("vi", offset, merged, "test", {})
    check_cues(long_tr, build_cues(long_tr))


def test_vtt_and_srt_round_trip(tmp_path: Path) -> None:
    rng = random.Random(3)
    tr = _random_transcript(rng, 80)
    cues = build_cues(tr)
    cues.append(Cue(cues[-1].end + 1, cues[-1].end + 2.5, "a < b & c --> d"))

    vtt_path = write_vtt(cues, tmp_path / "sub.vtt")
    assert vtt_path == tmp_path / "sub.vtt"
    raw = vtt_path.read_text(encoding="utf-8")
    assert raw.startswith("WEBVTT\nLanguage: vi\n")
    assert raw.rstrip("\n").split("\n")[-1] == "a &lt; b &amp; c --&gt; d"
    vtt = webvtt.read(str(vtt_path))
    assert len(vtt.captions) == len(cues)
    for cue, cap in zip(cues, vtt.captions, strict=True):
        assert html.unescape(cap.raw_text) == cue.text
        assert cap.start_time.in_milliseconds() == round(cue.start * 1000)
        assert cap.end_time.in_milliseconds() == round(cue.end * 1000)

    srt_path = write_srt(cues[:-1], tmp_path / "sub.srt")
    srt = webvtt.from_srt(str(srt_path))
    assert [c.text for c in srt.captions] == [c.text for c in cues[:-1]]
    assert [c.start_time.in_milliseconds() for c in srt.captions] == [
        round(c.start * 1000) for c in cues[:-1]
    ]
    assert "," in srt_path.read_text(encoding="utf-8").split("\n")[1]  # SRT uses 00:00:01,000
    assert not list(tmp_path.glob(".*.tmp"))
