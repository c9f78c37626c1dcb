"""Subtitle tracks in another language, behind one small interface.

The baseline is Whisper's own translate task (speech -> English text), decoded from the audio like
the transcript itself, chunk by chunk. A text machine-translation engine (Vietnamese transcript ->
English or any language) can replace it by implementing :class:`Translator` with
``needs_audio = False`` and :meth:`Translator.translate_transcript`, then registering itself in
``ENGINES``; the pipeline then calls it once the transcript is merged, keeping the cue times.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .options import DecodeOptions
from .transcript import Transcript

__all__ = ["ENGINES", "Translator", "WhisperTranslator", "translator_for"]


class Translator(ABC):
    """Produces a transcript in ``target`` from the speech (audio engines) or from the transcript (text engines)."""

    name: str = ""
    needs_audio: bool = True

    def __init__(self, target: str) -> None:
        if not self.supports(target):
            raise ValueError(f"{self.name} cannot translate into {target!r}")
        self.target = target

    @classmethod
    @abstractmethod
    def supports(cls, target: str) -> bool: ...

    def decode_options(self, base: DecodeOptions) -> DecodeOptions:
        """Audio engines: how the speech is decoded into the target language."""
        raise NotImplementedError(f"{self.name} translates text, not audio")

    def translate_transcript(self, source: Transcript) -> Transcript:
        """Text engines: the source transcript in the target language, with the same times."""
        raise NotImplementedError(f"{self.name} translates audio, not text")


class WhisperTranslator(Translator):
    """Whisper's translate task: any spoken language to English, from the audio (the baseline)."""

    name = "whisper"
    needs_audio = True

    @classmethod
    def supports(cls, target: str) -> bool:
        return target == "en"

    def decode_options(self, base: DecodeOptions) -> DecodeOptions:
        # No glossary prompt: it is Vietnamese text and would pull the decoder back into Vietnamese.
        return base.with_(task="translate", initial_prompt=None, hotwords=None)


ENGINES: dict[str, type[Translator]] = {"whisper": WhisperTranslator}


def translator_for(spec: str) -> Translator:
    """``"en"`` or ``"en:whisper"`` (target, then engine) -> a Translator; ValueError if none can."""
    target, _, engine = spec.strip().partition(":")
    if engine:
        if engine not in ENGINES:
            raise ValueError(f"unknown translation engine {engine!r}")
        return ENGINES[engine](target)
    for cls in ENGINES.values():
        if cls.supports(target):
            return cls(target)
    raise ValueError(f"no translation engine for {target!r}")
