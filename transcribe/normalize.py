"""Text normalisation for scoring (WER/CER) and for diacritic-free search.

Scoring compares what was said, not how it was spelled, so both the
reference and the hypothesis go through :func:`normalize_for_scoring`:

* Unicode NFC and lower case;
* punctuation and symbols removed;
* the two legal tone-mark placements unified ("hóa" / "hoá", "thủy" / "thuỷ"):
  the 2018 spelling rules allow both, and Whisper mixes them;
* "i" / "y" after a consonant unified ("kỹ" / "kĩ", "hy vọng" / "hi vọng"): both
  spellings are in use for the same syllables;
* numbers written as digits read out as Vietnamese words ("19" -> "mười chín"),
  because Whisper writes some numbers as digits and others as words.

The effect of each step on the measured WER is in docs/asr.md.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "normalize_for_scoring", "number_to_words", "unify_spelling"]

_SPACE_RE = re.compile(r"\s+")
_DIGITS_RE = re.compile(r"\d+(?:[.,]\d{3})+(?!\d)|\d+")

# Tone marks as combining characters (NFD): grave, acute, hook above, tilde, dot below.
_TONES = "\u0300\u0301\u0309\u0303\u0323"
# Open syllables whose tone may sit on either vowel: oa, oe, uy ("qúy" is a misspelling of "quý").
_OLD_STYLE_RE = re.compile(rf"^([bcdghklmnpqrstvxđ]*)([ou])([{_TONES}])([aey])$")
# Consonant(s) + y as a whole syllable: written with i or y ("kỹ"/"kĩ", "lý"/"lí").
_CY_RE = re.compile(rf"^(b|c|ch|d|đ|h|k|kh|l|m|n|ph|r|s|t|th|v|x)y([{_TONES}]?)$")

_UNITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def fold(text: str) -> str:
    """Lower case without diacritics: 'Đảng bộ Tỉnh' -> 'dang bo tinh' (search keys)."""
    text = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def unify_spelling(word: str) -> str:
    """One spelling for syllables that have two correct ones (lower-case NFC in and out)."""
    decomposed = unicodedata.normalize("NFD", word)
    if (m := _OLD_STYLE_RE.match(decomposed)) and m.group(2) + m.group(4) in ("oa", "oe", "uy"):
        decomposed = f"{m.group(1)}{m.group(2)}{m.group(4)}{m.group(3)}"
    if m := _CY_RE.match(decomposed):
        decomposed = f"{m.group(1)}i{m.group(2)}"
    return unicodedata.normalize("NFC", decomposed)


def number_to_words(number: int) -> str:
    """Read a non-negative integer in Vietnamese (northern usage: 'linh', 'mốt', 'lăm')."""
    if number < 0:
        return "âm " + number_to_words(-number)
    if number < 10:
        return _UNITS[number]
    groups: list[int] = []
    while number:
        number, rest = divmod(number, 1000)
        groups.append(rest)
    names = ("", "nghìn", "triệu", "tỷ")
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        is_first = index == len(groups) - 1
        words.append(_three_digits(group, full=not is_first))
        if index % 3:
            words.append(names[index % 3])
        elif index:
            words.append(" ".join(["tỷ"] * (index // 3)))
    return " ".join(w for w in words if w)


def _three_digits(number: int, *, full: bool) -> str:
    hundreds, rest = divmod(number, 100)
    tens, units = divmod(rest, 10)
    out: list[str] = []
    if hundreds or full:
        out += [_UNITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if out:
                out.append("linh")
            out.append(_UNITS[units])
        return " ".join(out)
    out.append("mười" if tens == 1 else f"{_UNITS[tens]} mươi")
    if units == 1:
        out.append("một" if tens == 1 else "mốt")
    elif units == 5:
        out.append("lăm")
    elif units:
        out.append(_UNITS[units])
    return " ".join(out)


def _spell_numbers(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        digits = re.sub(r"[.,]", "", match.group(0))
        if len(digits) > 12:
            return " ".join(_UNITS[int(d)] for d in digits)
        return f" {number_to_words(int(digits))} "

    return _DIGITS_RE.sub(repl, text)


def normalize_for_scoring(text: str) -> str:
    """NFC, lower case, spelled-out numbers, unified spellings, no punctuation."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _spell_numbers(text)
    kept = "".join(ch if unicodedata.category(ch)[0] in "LN" or ch.isspace() else " " for ch in text)
    return " ".join(unify_spelling(word) for word in _SPACE_RE.split(kept) if word)
