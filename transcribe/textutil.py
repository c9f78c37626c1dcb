"""Small text helpers shared by the engine and the subtitle builder."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# ASCII plus the CJK/full-width forms (escaped to keep the source unambiguous).
SENTENCE_END = frozenset(".?!\u2026\u3002\uff1f\uff01")
CLAUSE_END = frozenset(",;:\uff0c\u3001\uff1b\uff1a")
# Closing quotes/brackets may follow the punctuation that ends a word.
_TRAILING_CLOSERS = "\"')]}\u201d\u2019\u00bb\u300d\u300f"

_SPACE_RE = re.compile(r"\s+")


def nfc(text: str) -> str:
    """NFC and collapsed whitespace: Vietnamese diacritics must compare equal."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _no_space_script(ch: str) -> bool:
    # Scripts written without spaces between words (Whisper's words for them
    # carry no leading space): CJK, kana, Thai, Lao, Myanmar, Khmer.
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF
        or 0x3400 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x0E00 <= cp <= 0x0EFF
        or 0x1000 <= cp <= 0x109F
        or 0x1780 <= cp <= 0x17FF
        or 0x3000 <= cp <= 0x303F
        or 0xFF00 <= cp <= 0xFFEF
    )


def needs_space(left: str, right: str) -> bool:
    if not left or not right:
        return False
    return not (_no_space_script(left[-1]) or _no_space_script(right[0]))


def join_words(words: Iterable[str]) -> str:
    out = ""
    for word in words:
        out = f"{out} {word}" if needs_space(out, word) else out + word
    return out


def ending_punct(word: str) -> str:
    """The punctuation mark a word ends with ("" if none), ignoring closers."""
    stripped = word.rstrip(_TRAILING_CLOSERS)
    return stripped[-1] if stripped and (stripped[-1] in SENTENCE_END or stripped[-1] in CLAUSE_END) else ""


def comparable(text: str) -> str:
    """Lower-case, NFC, letters/digits only: for spotting repeated lines."""
    folded = unicodedata.normalize("NFC", text.casefold())
    kept = [ch if unicodedata.category(ch)[0] in "LN" else " " for ch in folded]
    return _SPACE_RE.sub(" ", "".join(kept)).strip()
