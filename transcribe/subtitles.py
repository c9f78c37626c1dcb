"""Turn a Transcript into readable subtitle cues and write VTT/SRT files."""

from __future__ import annotations

import contextlib
import html
import math
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .textutil import CLAUSE_END, SENTENCE_END, ending_punct, join_words, needs_space, nfc
from .transcript import Transcript

__all__ = ["Cue", "build_cues", "cue_chars", "cues_to_text", "wrap_lines", "write_srt", "write_vtt"]

PAUSE_S = 0.5  # a gap this long is a natural place to cut
MAX_INNER_GAP_S = 2.0  # never keep text on screen across a longer silence

# Cost weights for choosing cue boundaries (see _cue_cost). Relative sizes
# matter: each cue costs 1, a cut mid-clause 1 more, so two short cues only
# win over one full cue when there is a reason (punctuation, pause, timing).
_CUE_COST = 1.0
_BAD_BREAK = 1.0
_CLAUSE_BREAK = 0.3
_INNER_SENTENCE = 0.6
_INNER_PAUSE = 1.5
_SHORT = 4.0
_FAST = 3.0


@dataclass
class Cue:
    start: float
    end: float
    text: str  # at most max_lines lines joined by "\n"


@dataclass(frozen=True)
class _Tok:
    start: float
    end: float
    text: str
    segment_end: bool


def build_cues(
    transcript: Transcript,
    *,
    max_line_chars: int = 42,
    max_lines: int = 2,
    max_cps: float = 17.0,
    min_s: float = 1.0,
    max_s: float = 7.0,
) -> list[Cue]:
    """Split a transcript into cues.

    Lines never exceed ``max_line_chars`` (except a single over-long word) and
    words are never split. Cue boundaries are chosen by dynamic programming
    over word positions, preferring punctuation and pauses and keeping the
    reading speed near ``max_cps``. Cue ends are then stretched towards
    ``min_s`` / the reading-speed target, but never past the next cue, so
    cues never overlap.
    """
    toks = _tokens(transcript)
    if not toks:
        return []
    limits = _Limits(max_line_chars, max_lines, max_cps, min_s, max_s, transcript.duration_s)
    spans = _choose_spans(toks, limits)
    return _timed_cues(toks, spans, limits)


@dataclass(frozen=True)
class _Limits:
    line_chars: int
    lines: int
    cps: float
    min_s: float
    max_s: float
    media_end: float  # 0 when unknown


def _tokens(transcript: Transcript) -> list[_Tok]:
    """Words with times; segments without word timings get interpolated ones."""
    toks: list[_Tok] = []
    prev_end = 0.0
    for seg in transcript.segments:
        if seg.words:
            items = [(w.start, w.end, nfc(w.text)) for w in seg.words]
        else:
            items = _interpolate(seg.start, seg.end, nfc(seg.text).split(" "))
        items = [it for it in items if it[2]]
        for n, (raw_start, raw_end, text) in enumerate(items):
            start = max(raw_start, prev_end)
            prev_end = max(raw_end, start)
            toks.append(_Tok(start, prev_end, text, n == len(items) - 1))
    return toks


def _interpolate(start: float, end: float, words: list[str]) -> list[tuple[float, float, str]]:
    # Share the segment's time in proportion to word length (+1 for the gap).
    words = [w for w in words if w]
    total = sum(len(w) + 1 for w in words) or 1
    span = max(end - start, 0.0)
    out, t = [], start
    for word in words:
        step = span * (len(word) + 1) / total
        out.append((t, t + step, word))
        t += step
    return out


def _choose_spans(toks: list[_Tok], lim: _Limits) -> list[tuple[int, int]]:
    n = len(toks)
    best = [math.inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] == math.inf:
            continue
        lines, line_len, chars, inner = 1, 0, 0, 0.0
        for j in range(i, n):
            word = toks[j].text
            if j == i:
                chars = line_len = len(word)
            else:
                gap = toks[j].start - toks[j - 1].end
                if gap > MAX_INNER_GAP_S or toks[j].end - toks[i].start > lim.max_s:
                    break  # later j only get worse
                if len(word) > lim.line_chars or len(toks[i].text) > lim.line_chars:
                    break  # an over-long word gets a cue of its own
                if gap > PAUSE_S:
                    inner += _INNER_PAUSE + (gap - PAUSE_S)
                if ending_punct(toks[j - 1].text) in SENTENCE_END:
                    inner += _INNER_SENTENCE
                sep = 1 if needs_space(toks[j - 1].text, word) else 0
                chars += sep + len(word)
                if line_len + sep + len(word) <= lim.line_chars:
                    line_len += sep + len(word)
                else:  # greedy filling gives the fewest lines possible
                    lines, line_len = lines + 1, len(word)
                if lines > lim.lines:
                    break
            cost = best[i] + _cue_cost(toks, i, j, chars, inner, lim)
            if cost < best[j + 1]:
                best[j + 1], back[j + 1] = cost, i
    spans = []
    j = n
    while j > 0:
        spans.append((back[j], j - 1))
        j = back[j]
    return spans[::-1]


def _cue_cost(toks: list[_Tok], i: int, j: int, chars: int, inner: float, lim: _Limits) -> float:
    cost = _CUE_COST + inner
    last = toks[j]
    if j + 1 < len(toks):
        nxt = toks[j + 1]
        punct = ending_punct(last.text)
        if punct not in SENTENCE_END and nxt.start - last.end <= PAUSE_S:
            cost += _CLAUSE_BREAK if punct in CLAUSE_END or last.segment_end else _BAD_BREAK
        limit = nxt.start
    else:
        limit = max(lim.media_end, last.end) if lim.media_end > 0 else math.inf
    start = toks[i].start
    # Time the cue could stay on screen: up to the next word, capped at max_s.
    avail = max(min(limit, start + lim.max_s), last.end) - start
    if avail < lim.min_s:
        cost += _SHORT * (lim.min_s - avail)
    need = chars / lim.cps
    if need > avail:
        cost += _FAST * (need - avail)
    return cost


def _timed_cues(toks: list[_Tok], spans: list[tuple[int, int]], lim: _Limits) -> list[Cue]:
    cues: list[Cue] = []
    prev_end = 0.0
    for k, (i, j) in enumerate(spans):
        words = [t.text for t in toks[i : j + 1]]
        lines = wrap_lines(words, lim.line_chars, lim.lines)
        chars = cue_chars("\n".join(lines))
        start = max(toks[i].start, prev_end)
        if k + 1 < len(spans):
            limit = toks[spans[k + 1][0]].start
        elif lim.media_end > 0:
            limit = max(lim.media_end, toks[j].end)
        else:
            limit = math.inf
        target = max(toks[j].end, start + lim.min_s, start + chars / lim.cps)
        end = min(target, limit, start + lim.max_s)
        if end - start < lim.min_s:  # no room after: show it a little earlier
            start = max(prev_end, end - lim.min_s)
        start, end = round(start, 3), round(max(end, start), 3)
        cues.append(Cue(start, end, "\n".join(lines)))
        prev_end = end
    return cues


def wrap_lines(words: list[str], max_chars: int = 42, max_lines: int = 2) -> list[str]:
    """Break words into the fewest lines, then balance them.

    Among layouts with that many lines, minimise the sum of squared line
    lengths (balance), with a bonus for breaking after punctuation.
    """
    words = [nfc(w) for w in words if w.strip()]
    if not words:
        return []
    whole = join_words(words)
    if len(whole) <= max_chars or max_lines <= 1:
        return [whole]
    count = _greedy_line_count(words, max_chars)
    # More lines than allowed only when the caller passes an overfull cue:
    # keep all the text (over-long lines) rather than drop words.
    count = min(count, max_lines)
    n = len(words)
    # best[m][k]: cost of putting words[:k] on m lines.
    inf = math.inf
    best = [[inf] * (n + 1) for _ in range(count + 1)]
    back = [[0] * (n + 1) for _ in range(count + 1)]
    best[0][0] = 0.0
    for m in range(1, count + 1):
        for k in range(1, n + 1):
            for s in range(m - 1, k):
                if best[m - 1][s] == inf:
                    continue
                line = join_words(words[s:k])
                # Only reachable for an over-long word or an overfull cue.
                over = max(0, len(line) - max_chars) * 1_000_000
                bonus = 0.0 if k == n else _break_bonus(words[k - 1], max_chars)
                cost = best[m - 1][s] + len(line) ** 2 + over - bonus
                if cost < best[m][k]:
                    best[m][k], back[m][k] = cost, s
    lines, k = [], n
    for m in range(count, 0, -1):
        s = back[m][k]
        lines.append(join_words(words[s:k]))
        k = s
    return lines[::-1]


def _break_bonus(word: str, max_chars: int) -> float:
    # In units of squared length: roughly "worth ~1/4 line of imbalance".
    punct = ending_punct(word)
    if not punct:
        return 0.0
    weight = 1.0 if punct in SENTENCE_END else 0.6
    return weight * (max_chars**2) / 8


def _greedy_line_count(words: list[str], max_chars: int) -> int:
    lines, cur = 1, ""
    for word in words:
        candidate = join_words([cur, word]) if cur else word
        if len(candidate) <= max_chars or not cur:
            cur = candidate
        else:
            lines, cur = lines + 1, word
    return lines


def cue_chars(text: str) -> int:
    """Characters a viewer reads (line break counted as a space): for cps."""
    return len(text.replace("\n", " "))


def cues_to_text(cues: Iterable[Cue]) -> str:
    """Plain text of the cues (line breaks removed)."""
    return nfc(join_words(line for cue in cues for line in cue.text.split("\n")))


def write_vtt(cues: Iterable[Cue], path: str | Path, language: str = "vi") -> Path:
    import webvtt

    # VTT cue text is markup: escape &, <, > (also keeps "-->" out).
    captions = [_caption(cue, html.escape(cue.text, quote=False)) for cue in cues]
    doc = webvtt.WebVTT(captions=captions, metadata=[f"Language: {language}"] if language else None)
    return _write(path, lambda handle: doc.write(handle, format="vtt"))


def write_srt(cues: Iterable[Cue], path: str | Path) -> Path:
    import webvtt

    doc = webvtt.WebVTT(captions=[_caption(cue, cue.text) for cue in cues])
    return _write(path, lambda handle: doc.write(handle, format="srt"))


def _caption(cue: Cue, text: str):  # -> webvtt.Caption (imported lazily)
    from webvtt import Caption

    start = max(cue.start, 0.0)
    text = unicodedata.normalize("NFC", text)
    return Caption(start=_timestamp(start), end=_timestamp(max(cue.end, start)), text=text)


def _timestamp(seconds: float) -> str:
    """HH:MM:SS.mmm, the form webvtt-py parses (it writes SRT's comma itself)."""
    hours, rest = divmod(round(seconds * 1000), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _write(path: str | Path, render) -> Path:
    """Render into a temp file beside ``path`` then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic_text(path) as handle:
        render(handle)
    return path


@contextlib.contextmanager
def _atomic_text(path: Path) -> Iterator:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
