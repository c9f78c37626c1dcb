"""Scoring normalisation, loop guard, coverage holes, merging and glossary parsing (no model needed)."""

from __future__ import annotations

import pytest

from transcribe.engine import collapse_loops, uncovered
from transcribe.evaluate import score
from transcribe.glossary import decoder_hints, parse_terms
from transcribe.normalize import fold, normalize_for_scoring, number_to_words, unify_spelling
from transcribe.transcript import Segment, Transcript, Word, merge_transcripts


@pytest.mark.parametrize(("number", "words"), [
    (0, "không"), (5, "năm"), (10, "mười"), (15, "mười lăm"), (19, "mười chín"), (21, "hai mươi mốt"),
    (25, "hai mươi lăm"), (105, "một trăm linh năm"), (1005, "một nghìn không trăm linh năm"),
    (2025, "hai nghìn không trăm hai mươi lăm"), (1_000_000, "một triệu"),
])
def test_numbers_read_in_vietnamese(number: int, words: str) -> None:
    assert number_to_words(number) == words


def test_both_spellings_score_the_same() -> None:
    assert unify_spelling("hóa") == unify_spelling("hoá") == "hoá"
    assert unify_spelling("thủy") == unify_spelling("thuỷ")
    assert unify_spelling("kỹ") == unify_spelling("kĩ")
    assert unify_spelling("quý") == "quý" and unify_spelling("của") == "của" and unify_spelling("y") == "y"
    ref = "Đến cuối thế kỷ 19, ngành đánh bắt cá được thương mại hóa."
    hyp = "đến cuối thế kỉ mười chín ngành đánh bắt cá được thương mại hoá"
    assert normalize_for_scoring(ref) == normalize_for_scoring(hyp)
    assert score([ref], [hyp]).wer == 0.0
    # Real differences still count: one wrong word in ten.
    assert score([ref], [hyp.replace("ngành", "gần")]).errors == 1


def test_fold_removes_diacritics_and_d_stroke() -> None:
    assert fold("Đảng bộ Tỉnh Hà Giang") == "dang bo tinh ha giang"


def test_score_is_corpus_level() -> None:
    result = score(["một hai ba bốn", "năm sáu"], ["một hai ba bốn", "năm bảy"])
    assert (result.words, result.errors, result.wer) == (6, 1, round(1 / 6, 4))


def _words(text: str) -> list[str]:
    return text.split()


def test_decoding_loops_are_cut_but_real_repetition_kept() -> None:
    looped = _words("và và và và và nói rằng đi nhé đi nhé đi nhé đi nhé xong")
    assert [looped[i] for i in collapse_loops(looped)] == _words("và và nói rằng đi nhé đi nhé xong")
    normal = _words("rất rất tốt từng bước từng bước")
    assert collapse_loops(normal) == list(range(len(normal)))


def test_uncovered_speech_is_found() -> None:
    # Beam search skipped the first 8 s of a 20 s piece: that stretch is decoded again.
    pieces = [(0.0, 20.0), (21.0, 25.0)]
    words = [(8.0, 8.5), (8.6, 19.5), (21.2, 24.8)]
    assert uncovered(pieces, words) == [(0.0, 8.0)]
    assert uncovered(pieces, [(0.1, 19.9), (21.0, 25.0)]) == []


def _tr(offset: float, texts: list[str]) -> Transcript:
    segs = []
    t = offset
    for text in texts:
        words = [Word(t + i * 0.4, t + i * 0.4 + 0.3, w, 0.9) for i, w in enumerate(text.split())]
        segs.append(Segment(words[0].start, words[-1].end, text, words))
        t = words[-1].end + 0.5
    return Transcript("vi", 10.0, segs, "m")


def test_merge_keeps_times_and_drops_a_line_repeated_across_a_boundary() -> None:
    merged = merge_transcripts([_tr(0.0, ["xin chào các bạn"]), _tr(5.0, ["xin chào các bạn", "hôm nay"])],
                               12.0, language="vi", model="m")
    assert [s.text for s in merged.segments] == ["xin chào các bạn", "hôm nay"]
    assert merged.segments[1].start == pytest.approx(7.0)  # the time it was said, not shifted
    ends = [w.end for s in merged.segments for w in s.words]
    assert ends == sorted(ends)
    empty = merge_transcripts([], 30.0, language="vi", model="m")
    assert empty.segments == [] and empty.text == "" and empty.duration_s == 30.0


def test_glossary_terms_and_hints() -> None:
    terms = parse_terms("Nghị quyết\n Đảng bộ tỉnh ;Lũng Cú\n\nnghị quyết\n" + "x" * 200)
    assert terms == ["Nghị quyết", "Đảng bộ tỉnh", "Lũng Cú"]
    assert decoder_hints([]) == {}
    assert decoder_hints(terms, "prompt") == {"initial_prompt": "Nghị quyết, Đảng bộ tỉnh, Lũng Cú."}
    assert decoder_hints(terms, "hotwords") == {"hotwords": "Nghị quyết, Đảng bộ tỉnh, Lũng Cú"}
    many = decoder_hints([f"Xã Số {n}" for n in range(200)], "hotwords")["hotwords"]
    assert len(many) <= 300 and many.startswith("Xã Số 0")
