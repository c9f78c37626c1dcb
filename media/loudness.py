"""EBU R128 loudness: measure, plan a normalisation, apply it inside an encode.

Two passes. Pass 1 runs ffmpeg's `loudnorm` analysis over exactly the audio the encode will see
(same downmix, same trim) and reads its JSON (integrated loudness, true peak, loudness range,
gate threshold). Pass 2 is the encode itself with the planned filters:

- "linear": the gain target − measured fits under the true-peak ceiling, so `loudnorm` runs in
  its linear mode with the measured values: one constant gain, dynamics untouched.
- "limited": the gain would push peaks over the ceiling (GRID clips peak at 0 dBFS and need
  +2 dB for −14 LUFS). loudnorm would then switch to its dynamic mode, which needs several
  seconds of look-ahead and missed −14 LUFS by 21 LU on a 3 s GRID clip (it gave −35.5 LUFS).
  Instead: the constant gain, then a look-ahead limiter at 4× oversampling (192 kHz, which is
  how BS.1770 measures true peak). The limiter shaves a little loudness off the peaks, so one
  more audio-only pass measures that and tops the gain up.
- "silent": nothing above the gate (−70 LUFS): left alone rather than amplifying hiss.

The ceiling sits `CODEC_HEADROOM_DB` under the target true peak because AAC encoding adds
overshoots of a few tenths of a dB. `meter()` (the ebur128 filter, a second, independent
implementation of BS.1770) then measures what was really produced; callers store that.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from media.errors import FFMPEG_FAILED, MediaError
from media.ffprogress import ProgressFn, run_ffmpeg
from media.safe_input import user_input

CODEC_HEADROOM_DB = 0.5
SILENCE_LUFS = -70.0  # BS.1770 absolute gate: nothing measurable below it
MAX_GAIN_DB = 30.0  # never lift a near-silent track by more: that only amplifies the noise floor
_LIMIT_RATE = 192_000
_OUT_RATE = 48_000

# A callable that builds a fresh ffmpeg-python audio stream (input + the chain before loudness).
AudioChain = Callable[[], Any]


@dataclass(frozen=True)
class LoudnessTarget:
    name: str  # "broadcast" (portal, EBU R128) or "social"
    integrated: float  # LUFS
    true_peak: float = -1.0  # dBTP

    @property
    def ceiling(self) -> float:
        return self.true_peak - CODEC_HEADROOM_DB


BROADCAST = LoudnessTarget("broadcast", -23.0)  # EBU R128: the portal and broadcast
SOCIAL = LoudnessTarget("social", -14.0)  # what the social platforms normalise to


@dataclass(frozen=True)
class Loudness:
    integrated: float | None  # LUFS; None below the absolute gate (silence)
    true_peak: float | None  # dBTP; None for digital silence
    lra: float  # LU
    threshold: float  # LUFS, the relative gate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NormalizationPlan:
    target: LoudnessTarget
    mode: str  # "linear" | "limited" | "silent"
    gain_db: float
    measured: Loudness  # pass 1, before normalisation

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.name,
            "target_lufs": self.target.integrated,
            "target_true_peak": self.target.true_peak,
            "mode": self.mode,
            "gain_db": round(self.gain_db, 2),
            "input": self.measured.to_dict(),
        }


# --- pass 1 -------------------------------------------------------------------------------------


def analyse(chain: AudioChain, duration_s: float | None, progress: ProgressFn | None = None) -> Loudness:
    """Pass 1: loudnorm's analysis of the audio `chain()` produces."""
    stream = chain().filter("loudnorm", I=-23, TP=-1, LRA=11, print_format="json")
    lines = _run_analysis(stream, duration_s, progress)
    stats = _loudnorm_json(lines)
    return Loudness(
        integrated=_finite(stats.get("input_i"), floor=SILENCE_LUFS),
        true_peak=_finite(stats.get("input_tp")),
        lra=_finite(stats.get("input_lra")) or 0.0,
        threshold=_finite(stats.get("input_thresh")) or SILENCE_LUFS,
    )


def plan_normalization(measured: Loudness, target: LoudnessTarget) -> NormalizationPlan:
    """Pure: how to bring `measured` to `target` (see the module docstring)."""
    if measured.integrated is None:
        return NormalizationPlan(target, "silent", 0.0, measured)
    gain = min(target.integrated - measured.integrated, MAX_GAIN_DB)
    peak = measured.true_peak if measured.true_peak is not None else -math.inf
    mode = "linear" if peak + gain <= target.ceiling - 0.05 else "limited"
    return NormalizationPlan(target, mode, gain, measured)


def prepare(
    chain: AudioChain, target: LoudnessTarget, duration_s: float | None, progress: ProgressFn | None = None
) -> NormalizationPlan:
    """Pass 1 and the plan; a limited plan gets its gain corrected by one more measurement."""
    report = progress or (lambda _p: None)
    # Pass 1 gets the first 60% of this step's progress; the refinement (when needed) the rest.
    measured = analyse(chain, duration_s, lambda p: report(p * 0.6))
    plan = plan_normalization(measured, target)
    if plan.mode != "limited":
        report(100.0)
        return plan
    # The limiter costs some loudness on peaky material: measure the limited result, top up once.
    trial = meter_stream(apply(chain(), plan), duration_s, lambda p: report(60.0 + p * 0.4))
    if trial.integrated is not None:
        deficit = target.integrated - trial.integrated
        if 0.05 < deficit <= 6.0:
            plan = NormalizationPlan(target, "limited", min(plan.gain_db + deficit, MAX_GAIN_DB), measured)
    report(100.0)
    return plan


# --- pass 2 -------------------------------------------------------------------------------------


def apply(stream: Any, plan: NormalizationPlan) -> Any:
    """The filters of `plan` on an ffmpeg-python audio stream; output is 48 kHz float stereo."""
    m, t = plan.measured, plan.target
    if plan.mode == "linear" and m.integrated is not None:
        stream = stream.filter(
            "loudnorm",
            I=t.integrated,
            TP=t.ceiling,
            LRA=min(50.0, max(7.0, math.ceil(m.lra + 1))),  # never the reason linear mode is refused
            measured_I=max(-99.0, m.integrated),
            measured_TP=m.true_peak if m.true_peak is not None else -99.0,
            measured_LRA=min(99.0, m.lra),
            measured_thresh=max(-99.0, m.threshold),
            offset=0,
            linear="true",
        )
    elif plan.mode == "limited":
        stream = (
            stream.filter("volume", f"{plan.gain_db:.2f}dB", precision="double")
            .filter("aresample", _LIMIT_RATE)
            .filter(
                "alimiter",
                limit=round(10 ** (t.ceiling / 20), 4),
                attack=5,
                release=50,
                level="false",  # no automatic make-up gain: the gain is ours
                latency="true",  # compensate the look-ahead so audio stays in sync
            )
        )
    # loudnorm and the limiter work at 192 kHz; bring it back to the output rate.
    return stream.filter("aresample", _OUT_RATE).filter(
        "aformat", sample_fmts="fltp", sample_rates=_OUT_RATE, channel_layouts="stereo"
    )


# --- measuring results --------------------------------------------------------------------------


def meter(
    path: str, duration_s: float | None = None, progress: ProgressFn | None = None, *, demuxer: str | None = None
) -> Loudness:
    """EBU R128 loudness of the first audio stream of a file (ebur128 filter), read under
    media.safe_input's rules (`demuxer` forces the format when it is known)."""
    stream = user_input(path, demuxer)["a:0"].filter("aformat", channel_layouts="stereo")
    return meter_stream(stream, duration_s, progress)


def meter_stream(stream: Any, duration_s: float | None, progress: ProgressFn | None = None) -> Loudness:
    lines = _run_analysis(stream.filter("ebur128", peak="true", framelog="verbose"), duration_s, progress)
    return _ebur128_summary(lines)


def within(measured: Loudness, target: LoudnessTarget, tolerance_lu: float = 1.0) -> bool:
    """The EBU R128 check: integrated within ±tolerance and true peak at or under the target."""
    if measured.integrated is None:
        return False
    peak_ok = measured.true_peak is None or measured.true_peak <= target.true_peak + 1e-9
    return abs(measured.integrated - target.integrated) <= tolerance_lu and peak_ok


# --- internals ----------------------------------------------------------------------------------


def _run_analysis(stream: Any, duration_s: float | None, progress: ProgressFn | None) -> list[str]:
    cmd = stream.output("-", format="null").global_args("-loglevel", "info")
    # loudnorm/ebur128 print their report on stderr at the very end; keep enough lines for it.
    return run_ffmpeg(cmd, duration_s, progress, stderr_lines=80)


def _loudnorm_json(lines: list[str]) -> dict[str, Any]:
    text = "\n".join(lines)
    start, end = text.rfind("{"), text.rfind("}")
    if start < 0 or end < start:
        raise MediaError(FFMPEG_FAILED, "loudnorm printed no measurement:\n" + text[-800:])
    try:
        return json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise MediaError(FFMPEG_FAILED, f"unreadable loudnorm measurement: {exc}") from None


_SUMMARY = {
    "integrated": re.compile(r"^\s*I:\s*(-?[\d.]+|-?inf)\s*LUFS"),
    "threshold": re.compile(r"^\s*Threshold:\s*(-?[\d.]+|-?inf)\s*LUFS"),
    "lra": re.compile(r"^\s*LRA:\s*(-?[\d.]+|-?inf)\s*LU\b"),
    "true_peak": re.compile(r"^\s*Peak:\s*(-?[\d.]+|-?inf)\s*dBFS"),
}


def _ebur128_summary(lines: list[str]) -> Loudness:
    # Only the final "Summary:" block: earlier lines are per-frame logs when verbose is on.
    idx = max((i for i, ln in enumerate(lines) if "Summary:" in ln), default=-1)
    if idx < 0:
        raise MediaError(FFMPEG_FAILED, "ebur128 printed no summary:\n" + "\n".join(lines[-10:]))
    found: dict[str, float | None] = {}
    for line in lines[idx:]:
        for key, rx in _SUMMARY.items():
            if key not in found and (m := rx.match(line)):
                found[key] = _finite(m.group(1))
    integrated = found.get("integrated")
    if integrated is not None and integrated <= SILENCE_LUFS:
        integrated = None
    return Loudness(
        integrated=integrated,
        true_peak=found.get("true_peak"),
        lra=found.get("lra") or 0.0,
        threshold=found.get("threshold") or SILENCE_LUFS,
    )


def _finite(value: Any, floor: float | None = None) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x) or (floor is not None and x <= floor):
        return None
    return round(x, 2)
