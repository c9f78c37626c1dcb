"""Glossary terms: parsing, how they reach the decoder, and correcting near misses after it.

Whisper can be biased towards names and terms by text it sees before each window: an
``initial_prompt`` (as if it had just been said) or ``hotwords`` (faster-whisper puts them in the
prompt too). Either can hurt general speech: a naive prompt cost about +1.3 WER points on general
sentences, and a list-shaped prompt makes Whisper answer with lists.

The other lever works after decoding: a stretch of the transcript that spells a glossary term
with the wrong diacritics ("Đảng bộ tình", "hạ giang") or, for terms of three syllables or more,
a letter or two off ("Thay Phìn Tủng"), is replaced by the term, word for word, keeping the word
times. Only multi-syllable terms are matched, syllable count for syllable count, starting with the
same letter, so ordinary sentences are left alone.
The strategy used and its figures are in docs/asr.md ("Glossary").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import Any

from .normalize import fold
from .textutil import join_words, nfc
from .transcript import Segment, Transcript

__all__ = ["MAX_PROMPT_CHARS", "STRATEGIES", "STRATEGY", "apply_glossary", "correct_words", "corrects", "decoder_hints",
           "parse_terms"]

# Whisper's prompt holds at most 223 tokens; Vietnamese runs ~1.5-2 tokens per syllable.
MAX_PROMPT_CHARS = 300
MAX_TERM_CHARS = 80
_SPLIT_RE = re.compile(r"[\n;]+")

# How a glossary is used: "prompt" or "hotwords" (before decoding), "correct" (after), or both joined
# with "+", or "none". Chosen by measurement (docs/asr.md, "Glossary").
STRATEGY = "correct"
STRATEGIES = ("none", "prompt", "hotwords", "correct", "prompt+correct", "hotwords+correct")


def corrects(strategy: str | None = None) -> bool:
    """Whether near misses of the terms are corrected after decoding."""
    return "correct" in (strategy or STRATEGY).split("+")


def parse_terms(text: str) -> list[str]:
    """Terms from free text: one per line (or separated by ';'), NFC, trimmed, no duplicates."""
    seen: set[str] = set()
    terms: list[str] = []
    for raw in _SPLIT_RE.split(text or ""):
        term = nfc(raw).strip(" ,.-\t")
        if not term or len(term) > MAX_TERM_CHARS:
            continue
        key = term.casefold()
        if key not in seen:
            seen.add(key)
            terms.append(term)
    return terms


def decoder_hints(terms: list[str], strategy: str | None = None) -> dict[str, Any]:
    """Decoder arguments (DecodeOptions fields) for ``terms``: empty when there are none."""
    strategy = strategy or STRATEGY
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown glossary strategy {strategy!r}")
    before = [part for part in strategy.split("+") if part in ("prompt", "hotwords")]
    if not terms or not before:
        return {}
    strategy = before[0]
    kept: list[str] = []
    size = 0
    for term in terms:  # the first terms are the event's own: they win when space runs out
        if size + len(term) + 2 > MAX_PROMPT_CHARS:
            break
        kept.append(term)
        size += len(term) + 2
    text = ", ".join(kept)
    if strategy == "prompt":
        # A sentence-like prompt: Whisper continues in the style of the prompt (punctuated Vietnamese).
        return {"initial_prompt": f"{text}."}
    return {"hotwords": text}


# A stretch is taken for a term when their diacritic-free spellings are this similar (0..1).
MIN_SIMILARITY = 0.8
_EDGE_PUNCT = "\"'“”‘’([{)]}.,;:!?…"


def _bare(token: str) -> str:
    return fold(token.strip(_EDGE_PUNCT))


def _syllables(term: str) -> list[str]:
    return [t for t in term.split() if t]


def correct_words(tokens: list[str], terms: list[str], min_similarity: float = MIN_SIMILARITY) -> list[str]:
    """Replace stretches of ``tokens`` (words as decoded) that nearly spell a glossary term.

    Returns a list of the same length: each word keeps its place (and its time), its punctuation
    at the edges, and takes the term's spelling.
    """
    from rapidfuzz.distance import Levenshtein

    out = list(tokens)
    taken = [False] * len(tokens)
    bare = [_bare(t) for t in tokens]
    for term in sorted({nfc(t) for t in terms}, key=lambda t: -len(t)):  # longest first
        parts = _syllables(term)
        n = len(parts)
        if n < 2:
            continue
        target = " ".join(fold(p) for p in parts)
        for i in range(0, len(tokens) - n + 1):
            if any(taken[i : i + n]) or not all(bare[i : i + n]):
                continue
            window = " ".join(bare[i : i + n])
            if window[0] != target[0]:  # the first letter is rarely misheard; checking it avoids false hits
                continue
            exact = " ".join(unicodedata.normalize("NFC", t.strip(_EDGE_PUNCT)).casefold() for t in tokens[i : i + n])
            # Same letters and marks (only the case may differ: names get their capitals), or a near miss.
            # Two-syllable terms must match but for diacritics: one letter off is a different word
            # ("hàng giang" is not "Hà Giang"); longer terms may also differ by a letter or two.
            near = n >= 3 and Levenshtein.normalized_similarity(window, target) >= min_similarity
            if exact != term.casefold() and window != target and not near:
                continue
            for k, part in enumerate(parts):
                token = tokens[i + k]
                core = token.strip(_EDGE_PUNCT)
                lead = token[: len(token) - len(token.lstrip(_EDGE_PUNCT))]
                trail = token[len(lead) + len(core):]
                out[i + k] = f"{lead}{part}{trail}"
            taken[i : i + n] = [True] * n
    return out


def apply_glossary(transcript: Transcript, terms: list[str]) -> Transcript:
    """The transcript with near misses of multi-syllable terms corrected (times unchanged)."""
    if not terms or not any(len(_syllables(t)) >= 2 for t in terms):
        return transcript
    segments: list[Segment] = []
    for seg in transcript.segments:
        if seg.words:
            fixed = correct_words([w.text for w in seg.words], terms)
            words = [replace(w, text=t) for w, t in zip(seg.words, fixed, strict=True)]
            segments.append(replace(seg, words=words, text=nfc(join_words(w.text for w in words))))
        else:
            segments.append(replace(seg, text=" ".join(correct_words(seg.text.split(), terms))))
    return replace(transcript, segments=segments)
