"""Pick the rendition ladder (sizes, bitrate caps, frame rate) for a source. Pure functions."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

# Peak bitrate caps (bits/s) by short side; CRF decides the quality, the cap keeps a talking-head
# recording from bursting past what a mobile connection in the provinces can sustain.
_MAXRATE_POINTS = (
    (144, 250_000),
    (240, 400_000),
    (360, 800_000),
    (480, 1_500_000),
    (720, 3_000_000),
    (1080, 5_000_000),
    (1440, 9_000_000),
    (2160, 16_000_000),
)
MAX_FPS = 30


@dataclass(frozen=True)
class Rung:
    name: str  # "720p": also the playlist file stem
    short_side: int  # the ladder value; height for landscape, width for portrait
    width: int
    height: int
    maxrate: int  # bits/s
    bufsize: int  # bits


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def maxrate_for(short_side: int) -> int:
    """Cap for a rung, interpolated linearly between the table points."""
    pts = _MAXRATE_POINTS
    if short_side <= pts[0][0]:
        return pts[0][1]
    for (h0, r0), (h1, r1) in itertools.pairwise(pts):
        if short_side <= h1:
            return int(r0 + (r1 - r0) * (short_side - h0) / (h1 - h0))
    return pts[-1][1]


def plan_rungs(display_w: int, display_h: int, heights: Sequence[int]) -> list[Rung]:
    """Rungs from `heights` that fit the source (never upscale), largest first.

    Heights apply to the short side so a portrait phone video gets 720x1280 for "720p" rather
    than a postage stamp 406x720. A source smaller than every rung gets one rung at its own size.
    """
    if display_w <= 0 or display_h <= 0:
        raise ValueError(f"bad source size {display_w}x{display_h}")
    portrait = display_h > display_w
    short, long_ = (display_w, display_h) if portrait else (display_h, display_w)
    targets = sorted({_even(h) for h in heights if 0 < h <= short}, reverse=True)
    if not targets:
        targets = [max(2, short - short % 2)]  # round down: never upscale even by a pixel
    rungs = []
    for t in targets:
        other = _even(t * long_ / short)
        w, h = (t, other) if portrait else (other, t)
        rate = maxrate_for(t)
        rungs.append(Rung(f"{t}p", t, w, h, rate, 2 * rate))
    return rungs


_STANDARD_RATES = tuple(
    Fraction(x)
    for x in (
        *("10", "12", "12.5", "15", "24000/1001", "24", "25", "30000/1001", "30"),
        *("48", "50", "60000/1001", "60", "120"),
    )
)


def output_fps(src_fps: float | None) -> Fraction:
    """Constant output rate for a source's (average) rate.

    VFR phone footage averages odd values like 29.81: snap to the nearest standard rate within 5%
    (this also restores 30000/1001 from probe's rounded 29.97). Above 30, halve while that stays a
    sensible rate (60->30, 50->25), otherwise cap at 30.
    """
    if not src_fps or src_fps <= 0:
        return Fraction(25)
    f = Fraction(src_fps).limit_denominator(1001)
    nearest = min(_STANDARD_RATES, key=lambda r: abs(r - f))
    if abs(nearest - f) / nearest < Fraction(5, 100):
        f = nearest
    while f > MAX_FPS and f / 2 >= 23:
        f /= 2
    return min(max(f, Fraction(1)), Fraction(MAX_FPS))


def fit_within(display_w: int, display_h: int, max_w: int) -> tuple[int, int]:
    """Even dimensions no wider than `max_w`, keeping the display aspect ratio."""
    w = min(max_w, display_w)
    return _even(w), _even(w * display_h / display_w)
