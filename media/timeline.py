"""Edit decisions: which parts of a source are kept, and what that does to times and subtitles.

An editor sets an in point, an out point and any number of middle cuts. That becomes a
`Timeline`: the source ranges kept, in order. Everything derived from an edited recording (the
ladder, the download, posters, the storyboard, subtitles, social cuts) is produced from the
untouched source plus this timeline, so the original is never rewritten and nothing is encoded
twice. Pure functions, except `cut_streams`, which builds (but does not run) ffmpeg filters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ffmpeg

from media.errors import TRIM_EMPTY, TRIM_OUT_OF_RANGE, MediaError
from media.safe_input import user_input

# Shortest edited result worth producing, and the end-of-media slack a click on the last frame needs.
MIN_KEEP_S = 0.5
END_SLACK_S = 0.1
# A cue cut down to less than this by an edit is dropped: a flash of text nobody can read.
MIN_CUE_S = 0.3

Range = tuple[float, float]


@dataclass(frozen=True)
class Timeline:
    """Kept source ranges (seconds), sorted and disjoint. The edited media plays them back to back."""

    keep: tuple[Range, ...]

    @classmethod
    def whole(cls, duration_s: float) -> Timeline:
        return cls(((0.0, round(duration_s, 3)),))

    @classmethod
    def from_edit(
        cls,
        duration_s: float,
        in_s: float | None = None,
        out_s: float | None = None,
        cuts: Iterable[Sequence[float]] = (),
        fps: float | None = None,
    ) -> Timeline:
        """Validate an editor's decision against the media and build the timeline.

        Times snap to frame boundaries when `fps` is given (the preview steps frame by frame).
        Raises MediaError("trim_out_of_range") for points outside the media or reversed ranges,
        MediaError("trim_empty") when less than MIN_KEEP_S would remain.
        """
        if duration_s <= 0:
            raise MediaError(TRIM_OUT_OF_RANGE, "the media has no duration")
        snap = _snapper(fps)
        start = snap(0.0 if in_s is None else parse_time(in_s))
        end = snap(duration_s if out_s is None else parse_time(out_s))
        if start < 0 or end > duration_s + END_SLACK_S or start >= end:
            raise MediaError(TRIM_OUT_OF_RANGE, f"in {start} / out {end} outside 0..{duration_s} or reversed")
        end = min(end, round(duration_s, 3))
        removed: list[Range] = []
        for cut in cuts:
            if len(cut) != 2:
                raise MediaError(TRIM_OUT_OF_RANGE, f"a cut needs a start and an end: {cut!r}")
            a, b = snap(parse_time(cut[0])), snap(parse_time(cut[1]))
            if not (start <= a < b <= end + END_SLACK_S):
                raise MediaError(TRIM_OUT_OF_RANGE, f"cut {a}-{b} is outside {start}-{end} or reversed")
            removed.append((a, min(b, end)))
        keep: list[Range] = []
        cursor = start
        for a, b in _merge(removed):
            if a - cursor > 1e-6:
                keep.append((cursor, a))
            cursor = max(cursor, b)
        if end - cursor > 1e-6:
            keep.append((cursor, end))
        # A sliver of a frame between two cuts is not a part anyone meant to keep.
        min_part = 1.0 / fps if fps else 0.02
        keep = [(round(a, 3), round(b, 3)) for a, b in keep if b - a >= min_part - 1e-6]
        timeline = cls(tuple(keep))
        if timeline.duration < MIN_KEEP_S:
            raise MediaError(TRIM_EMPTY, f"only {timeline.duration:.2f} s would remain")
        return timeline

    @classmethod
    def from_ranges(cls, ranges: Iterable[Sequence[float]]) -> Timeline:
        """From stored ranges (e.g. JSON), checked for order and overlap."""
        keep = tuple((float(a), float(b)) for a, b in ranges)
        for (a, b), nxt in zip(keep, keep[1:] + ((math.inf, math.inf),), strict=True):
            if not (0 <= a < b <= nxt[0]):
                raise ValueError(f"kept ranges must be sorted and disjoint: {keep}")
        if not keep:
            raise ValueError("a timeline keeps at least one range")
        return cls(keep)

    @property
    def duration(self) -> float:
        return round(sum(b - a for a, b in self.keep), 3)

    @property
    def source_start(self) -> float:
        return self.keep[0][0]

    @property
    def source_end(self) -> float:
        return self.keep[-1][1]

    def is_whole(self, duration_s: float, tolerance: float = 0.05) -> bool:
        return len(self.keep) == 1 and self.keep[0][0] <= tolerance and self.keep[0][1] >= duration_s - tolerance

    def offsets(self) -> list[tuple[float, float, float]]:
        """(source start, source end, edited start) for every kept range."""
        out, t = [], 0.0
        for a, b in self.keep:
            out.append((a, b, t))
            t += b - a
        return out

    def to_edited(self, t_src: float) -> float | None:
        """Edited time of a source time, None when that moment was cut out."""
        for a, b, o in self.offsets():
            if a <= t_src <= b:
                return round(o + t_src - a, 3)
        return None

    def to_source(self, t_edit: float) -> float:
        """Source time of an edited time (a join maps to the start of the later part)."""
        for a, b, o in self.offsets():
            if t_edit < o + (b - a) - 1e-9:
                return round(a + max(0.0, t_edit - o), 3)
        return self.source_end

    def source_ranges(self, start: float, end: float) -> list[Range]:
        """The source ranges that make up edited [start, end) (several when it spans a cut)."""
        if not (0 <= start < end <= self.duration + END_SLACK_S):
            raise MediaError(TRIM_OUT_OF_RANGE, f"{start}-{end} is outside 0..{self.duration}")
        out = []
        for a, b, o in self.offsets():
            lo, hi = max(start, o), min(end, o + (b - a))
            if hi - lo > 1e-6:
                out.append((round(a + lo - o, 3), round(a + hi - o, 3)))
        return out

    def sub(self, start: float, end: float) -> Timeline:
        """The timeline of edited [start, end) as source ranges: what a social cut of that range keeps."""
        return Timeline(tuple(self.source_ranges(start, end)))

    def to_json(self) -> list[list[float]]:
        return [[a, b] for a, b in self.keep]


def shift_cues(
    cues: Iterable[Mapping[str, Any]], timeline: Timeline, min_s: float = MIN_CUE_S
) -> list[dict[str, Any]]:
    """Subtitle cues (source times) moved onto the edited timeline.

    Cues inside removed parts are dropped; a cue across a cut keeps only its kept time (its two
    halves meet at the join, so they become one cue); a cue cut down below `min_s` is dropped.
    Other keys are kept; word timings ("words": [{"start", "end", ...}]) are shifted the same way.
    """
    out: list[dict[str, Any]] = []
    for cue in cues:
        start, end = float(cue["start"]), float(cue["end"])
        pieces = _map_span(start, end, timeline)
        if not pieces:
            continue
        new_start, new_end = pieces[0][0], pieces[-1][1]
        kept = sum(b - a for a, b in pieces)
        if kept < min(min_s, end - start) - 1e-6:
            continue
        item = {**cue, "start": new_start, "end": new_end}
        if isinstance(cue.get("words"), list):
            item["words"] = _shift_words(cue["words"], timeline)
        out.append(item)
    return out


def _shift_words(words: list[Any], timeline: Timeline) -> list[Any]:
    shifted = []
    for w in words:
        if not isinstance(w, Mapping) or "start" not in w or "end" not in w:
            continue
        pieces = _map_span(float(w["start"]), float(w["end"]), timeline)
        if pieces:
            shifted.append({**w, "start": pieces[0][0], "end": pieces[-1][1]})
    return shifted


def _map_span(start: float, end: float, timeline: Timeline) -> list[Range]:
    """Edited pieces of source [start, end), merged where they meet at a join."""
    pieces: list[Range] = []
    for a, b, o in timeline.offsets():
        lo, hi = max(start, a), min(end, b)
        if hi - lo > 1e-6:
            piece = (round(o + lo - a, 3), round(o + hi - a, 3))
            if pieces and abs(pieces[-1][1] - piece[0]) < 1e-3:
                pieces[-1] = (pieces[-1][0], piece[1])
            else:
                pieces.append(piece)
    return pieces


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def parse_time(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MediaError(TRIM_OUT_OF_RANGE, f"not a time: {value!r}") from None
    if not math.isfinite(x):
        raise MediaError(TRIM_OUT_OF_RANGE, f"not a time: {value!r}")
    return x


def _snapper(fps: float | None):
    if not fps or fps <= 0:
        return lambda t: round(t, 3)
    return lambda t: round(round(t * fps) / fps, 3)


# --- ffmpeg graph -------------------------------------------------------------------------------


def open_input(
    src: str, timeline: Timeline | None, *, demuxer: str | None = None, **kwargs: Any
) -> tuple[Any, list[Range]]:
    """An ffmpeg-python input reading only what `timeline` needs, and the kept ranges relative to it.

    `src` is opened under media.safe_input's rules (`demuxer`: the probed format, forced with -f).

    Input-side -ss/-t: ffmpeg seeks to the keyframe before the in point, decodes and drops the
    frames before it (accurate seek), and stops reading after the out point, so a short edit of
    a two-hour recording does not decode the whole file. Timestamps then start at 0 at the in point.
    """
    if timeline is None:
        return user_input(src, demuxer, **kwargs), []
    base = timeline.source_start
    if base > 0:
        kwargs["ss"] = f"{base:.3f}"
    kwargs["t"] = f"{timeline.source_end - base:.3f}"
    relative = [(round(a - base, 3), round(b - base, 3)) for a, b in timeline.keep]
    return user_input(src, demuxer, **kwargs), relative


def cut_video(stream: Any, relative: list[Range]) -> Any:
    """Keep `relative` ranges of a (constant-rate) video stream, back to back."""
    if len(relative) <= 1:
        return stream  # open_input's -ss/-t already did the cutting
    parts = stream.filter_multi_output("split", len(relative))
    pieces = [
        parts.stream(i).trim(start=f"{a:.3f}", end=f"{b:.3f}").setpts("PTS-STARTPTS")
        for i, (a, b) in enumerate(relative)
    ]
    return ffmpeg.concat(*pieces, v=1, a=0)


def cut_audio(stream: Any, relative: list[Range]) -> Any:
    """Keep `relative` ranges of an audio stream, sample-accurately, back to back."""
    if len(relative) <= 1:
        return stream
    parts = stream.filter_multi_output("asplit", len(relative))
    pieces = [
        parts.stream(i).filter("atrim", start=f"{a:.3f}", end=f"{b:.3f}").filter("asetpts", "PTS-STARTPTS")
        for i, (a, b) in enumerate(relative)
    ]
    return ffmpeg.concat(*pieces, v=0, a=1)
