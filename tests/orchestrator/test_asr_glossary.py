"""Glossaries: terms from the event, its series and its sites; near misses corrected after decoding."""
from __future__ import annotations

import uuid

import pytest

from orchestrator.db import db
from orchestrator.glossary import terms_for
from orchestrator.models import Event
from transcribe.glossary import apply_glossary, correct_words
from transcribe.transcript import Segment, Transcript, Word

TERMS = ["Nghị quyết", "Đảng bộ tỉnh", "Thài Phìn Tủng", "Hà Giang", "Lũng Cú"]


@pytest.mark.parametrize(("heard", "fixed"), [
    ("đảng bộ tình hạ giang, nghi quyết số 57", "Đảng bộ tỉnh Hà Giang, Nghị quyết số 57"),
    ("xã thay phìn tủng", "xã Thài Phìn Tủng"),
    ("(hà giang).", "(Hà Giang)."),
])
def test_near_misses_of_terms_are_corrected(heard: str, fixed: str) -> None:
    assert " ".join(correct_words(heard.split(), TERMS)) == fixed


@pytest.mark.parametrize("sentence", [
    "chúng ta có thể áp dụng logic tương tự với người khác",
    "trên thực tế các nghi ngờ đã bắt đầu xuất hiện",
    "xa mung pô và hàng giang",  # too far from any term: left as heard
])
def test_ordinary_speech_is_left_alone(sentence: str) -> None:
    assert " ".join(correct_words(sentence.split(), TERMS)) == sentence


def test_correction_keeps_word_times() -> None:
    words = [Word(0.0, 0.4, "Đang", 0.4), Word(0.4, 0.7, "bộ", 0.9), Word(0.7, 1.2, "tình.", 0.5)]
    tr = Transcript("vi", 2.0, [Segment(0.0, 1.2, "Đang bộ tình.", words)], "m")
    fixed = apply_glossary(tr, TERMS)
    assert fixed.text == "Đảng bộ tỉnh."
    assert [(w.start, w.end) for w in fixed.segments[0].words] == [(0.0, 0.4), (0.4, 0.7), (0.7, 1.2)]
    assert apply_glossary(tr, []) is tr


def test_terms_come_from_event_series_and_sites(app):
    from orchestrator.scheduling import Participation, Series
    from orchestrator.sites import Site

    tag = uuid.uuid4().hex[:6]
    series = Series(name=f"Chuỗi {tag}", slug=f"chuoi-{tag}", description="", glossary="Ban Thường vụ\nNghị quyết")
    host = Site(code=f"H{tag}", name="Tỉnh Hà Giang", level="province")
    commune = Site(code=f"C{tag}", name="Xã Lũng Cú", level="commune")
    event = Event(kind="conference", title="Hội nghị", glossary="Nghị quyết\nĐảng bộ tỉnh", series=series,
                  host_site=host)
    db.session.add_all([series, host, commune, event])
    db.session.flush()
    db.session.add(Participation(event_id=event.id, site_id=commune.id))
    db.session.commit()
    assert terms_for(event) == ["Nghị quyết", "Đảng bộ tỉnh", "Ban Thường vụ", "Hà Giang", "Lũng Cú"]
