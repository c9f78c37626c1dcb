"""The Translator interface: Whisper's translate task is the baseline; a text engine can plug in."""

from __future__ import annotations

import pytest

from transcribe.options import DecodeOptions
from transcribe.transcript import Segment, Transcript
from transcribe.translate import ENGINES, Translator, WhisperTranslator, translator_for


def test_whisper_translates_speech_into_english_only() -> None:
    translator = translator_for("en")
    assert isinstance(translator, WhisperTranslator) and translator.needs_audio
    options = translator.decode_options(DecodeOptions(language="vi", hotwords="Nghị quyết", initial_prompt="x"))
    assert options.task == "translate" and options.language == "vi"
    assert options.hotwords is None and options.initial_prompt is None
    with pytest.raises(ValueError):
        translator_for("fr")
    with pytest.raises(ValueError):
        translator_for("en:nosuchengine")


class _UpperCase(Translator):
    """A stand-in text engine: proves the interface, not a translation."""

    name = "upper"
    needs_audio = False

    @classmethod
    def supports(cls, target: str) -> bool:
        return target == "xx"

    def translate_transcript(self, source: Transcript) -> Transcript:
        segments = [Segment(s.start, s.end, s.text.upper()) for s in source.segments]
        return Transcript(self.target, source.duration_s, segments, f"mt:{self.name}", {})


def test_a_text_engine_can_be_registered(monkeypatch) -> None:
    monkeypatch.setitem(ENGINES, "upper", _UpperCase)
    from orchestrator.asr import tracks_for

    tracks = tracks_for("vi", DecodeOptions(), translations=["en", "xx:upper"])
    assert [(t.language, t.engine, t.from_text) for t in tracks] == [
        ("vi", "", False), ("en", "whisper", False), ("xx", "upper", True)]
    source = Transcript("vi", 3.0, [Segment(0.0, 1.0, "xin chào")], "m", {})
    out = tracks[2].translator.translate_transcript(source)
    assert out.text == "XIN CHÀO" and out.segments[0].end == 1.0
