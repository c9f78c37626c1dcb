"""Vertical social cuts: 1080x1920 (9:16), at most 90 s, Vietnamese subtitles burned in, −14 LUFS.

Framing, the editor's choice:
- "centre": the picture scaled to cover 9:16 and the middle kept. A speaker in the middle of a
  16:9 shot stays in frame; the sides are lost.
- "blur": the whole picture, scaled to the full width, over a blurred, zoomed copy of itself.
  Nothing is lost; a wide shot of a panel stays whole. The blur runs on a quarter-size copy
  (a 1080x1920 box blur would cost more than the encode).

Subtitles are rendered by libass from an ASS script written here: a font with every Vietnamese
diacritic (Noto Sans, from fonts-noto-core, checked through fontconfig's `:lang=vi`), bold white
with a dark outline, and margins that keep text clear of the platforms' own buttons and captions
(bottom ~18%, sides ~7%). One ffmpeg run does the cut, framing, subtitles, loudness and encode.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from media import loudness as loud
from media.errors import FONT_MISSING, NO_FRAMES, NO_STREAMS, RANGE_TOO_LONG, TRIM_OUT_OF_RANGE, MediaError
from media.ffprogress import Monotonic, ProgressFn, run_ffmpeg
from media.ladder import output_fps
from media.probe import ProbeResult, probe
from media.safe_input import MP4_DEMUXER
from media.timeline import Timeline, cut_audio, cut_video, open_input

WIDTH, HEIGHT = 1080, 1920
MAX_SECONDS = 90.0
MIN_SECONDS = 1.0
MODES = ("centre", "blur")
AUDIO_BITRATE = 192_000
# Safe areas: TikTok/Reels/Shorts put buttons on the right and captions + progress at the bottom.
MARGIN_SIDE = 76
MARGIN_BOTTOM = 340
FONT_SIZE = 62
PREFERRED_FONTS = ("Noto Sans", "DejaVu Sans")


@dataclass
class SocialCutResult:
    path: str
    duration_s: float
    width: int
    height: int
    mode: str
    cues: int  # subtitle cues burned in
    font: str | None
    loudness: dict[str, Any] | None
    source_ranges: list[list[float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- subtitles ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def vietnamese_font(preferred: tuple[str, ...] = PREFERRED_FONTS) -> str | None:
    """A font family fontconfig says covers Vietnamese (`:lang=vi`), preferring `preferred`."""
    try:
        out = subprocess.run(
            ["fc-list", ":lang=vi", "family"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families = {name.strip() for line in out.splitlines() for name in line.split(",") if name.strip()}
    for name in preferred:
        if name in families:
            return name
    return sorted(families)[0] if families else None


def ass_escape(text: str) -> str:
    """Cue text as ASS dialogue text: braces would start override blocks, backslashes escapes."""
    text = text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")")
    return "\\N".join(line.strip() for line in text.strip().splitlines() if line.strip())


def ass_document(cues: Iterable[Mapping[str, Any]], font: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """An ASS script for `cues` (dicts with start, end, text) on a width x height canvas."""
    style = (
        f"Style: Default,{font},{FONT_SIZE},&H00FFFFFF,&H00FFFFFF,&H00101010,&H99000000,"
        f"-1,0,0,0,100,100,0,0,1,5,2,2,{MARGIN_SIDE},{MARGIN_SIDE},{MARGIN_BOTTOM},1"
    )
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",  # smart wrapping, top line wider: long cues break inside the safe area
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
        "MarginL, MarginR, MarginV, Encoding",
        style,
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    for cue in cues:
        start, end = float(cue["start"]), float(cue["end"])
        text = ass_escape(str(cue.get("text", "")))
        if end > start and text:
            lines.append(f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},Default,,0,0,0,,{text}")
    return "\n".join(lines) + "\n"


def _ass_time(t: float) -> str:
    cs = int(round(max(0.0, t) * 100))
    h, rem = divmod(cs, 360_000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


# --- the cut ------------------------------------------------------------------------------------


def check_range(duration_s: float, start: float, end: float) -> None:
    if not (0 <= start < end <= duration_s + 0.1):
        raise MediaError(TRIM_OUT_OF_RANGE, f"{start}-{end} outside 0..{duration_s}")
    if end - start > MAX_SECONDS + 1e-6:
        raise MediaError(RANGE_TOO_LONG, f"{end - start:.1f} s > {MAX_SECONDS:.0f} s")
    if end - start < MIN_SECONDS:
        raise MediaError(TRIM_OUT_OF_RANGE, f"{end - start:.2f} s is shorter than {MIN_SECONDS} s")


def frame(video: Any, mode: str) -> Any:
    """9:16 framing of a video stream (see the module docstring)."""
    if mode == "centre":
        return video.filter("scale", WIDTH, HEIGHT, force_original_aspect_ratio="increase").filter(
            "crop", WIDTH, HEIGHT
        )
    if mode != "blur":
        raise ValueError(f"unknown framing mode {mode!r}")
    bg_src, fg_src = (video.filter_multi_output("split", 2).stream(i) for i in range(2))
    bg = (
        bg_src.filter("scale", WIDTH // 4, HEIGHT // 4, force_original_aspect_ratio="increase")
        .filter("crop", WIDTH // 4, HEIGHT // 4)
        .filter("boxblur", luma_radius=12, luma_power=2)
        .filter("scale", WIDTH, HEIGHT)
        .filter("eq", brightness=-0.08)  # a touch darker: the sharp picture and the text stand out
    )
    fg = fg_src.filter("scale", WIDTH, HEIGHT, force_original_aspect_ratio="decrease").filter("setsar", "1")
    return ffmpeg.overlay(bg, fg, x="(W-w)/2", y="(H-h)/2")


def make_social_cut(
    src: str | Path,
    dest: str | Path,
    timeline: Timeline,
    *,
    mode: str = "centre",
    cues: Iterable[Mapping[str, Any]] = (),
    probe_result: ProbeResult | None = None,
    preset: str = "veryfast",
    crf: int = 21,
    video_encoder: str = "libx264",
    target: loud.LoudnessTarget = loud.SOCIAL,
    progress: ProgressFn | None = None,
) -> SocialCutResult:
    """Render the kept ranges of `src` (`timeline`: at most 90 s in all) as a 9:16 MP4 at `dest`.

    `cues` are subtitle cues already on the cut's own timeline (0 = first frame of the cut), e.g.
    from media.timeline.shift_cues. `dest` appears only when everything worked.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    src_path, dest_path = Path(src).resolve(), Path(dest).resolve()
    pr = probe_result or probe(src_path)
    if not pr.has_video:
        raise MediaError(NO_STREAMS, "a social cut needs a picture; this recording has sound only")
    check_range(timeline.duration, 0.0, timeline.duration)
    for a, b in timeline.keep:
        if b > pr.duration_s + 0.1:
            raise MediaError(TRIM_OUT_OF_RANGE, f"{a}-{b} outside 0..{pr.duration_s}")
    cue_list = [dict(c) for c in cues]
    font = vietnamese_font() if cue_list else None
    if cue_list and font is None:
        raise MediaError(FONT_MISSING, "no font with Vietnamese diacritics (install fonts-noto-core)")

    dest_path.parent.mkdir(parents=True, exist_ok=True)
    report = Monotonic(progress)
    with tempfile.TemporaryDirectory(prefix=".social-", dir=dest_path.parent) as tmp_name:
        tmp = Path(tmp_name)
        plan = None
        demuxer = pr.format_name or None  # the probed format, forced on every read of the source
        if pr.has_audio:
            plan = loud.prepare(
                lambda: _audio(src_path, timeline, demuxer), target, timeline.duration, report.phase(0, 10)
            )
        inp, relative = open_input(str(src_path), timeline, demuxer=demuxer)
        fps = output_fps(pr.fps)
        v = inp["V:0"].filter("bwdif", mode="send_frame", deint="interlaced").filter("fps", fps=str(fps))
        v = frame(cut_video(v, relative), mode)
        if cue_list:
            ass = tmp / "subtitles.ass"
            ass.write_text(ass_document(cue_list, font or PREFERRED_FONTS[0]), encoding="utf-8")
            v = v.filter("subtitles", filename=str(ass), charenc="UTF-8")
        v = v.filter("setsar", "1").filter("format", "yuv420p")
        streams = [v]
        if pr.has_audio:
            streams.append(loud.apply(cut_audio(_audio_base(inp), relative), plan) if plan else
                           cut_audio(_audio_base(inp), relative))
        out_tmp = tmp / "cut.mp4"
        kwargs: dict[str, Any] = {
            "c:v": video_encoder,
            "g": max(1, round(2 * float(fps))),
            "maxrate": 8_000_000,
            "bufsize": 16_000_000,
            "movflags": "+faststart",
            "map_metadata": -1,
            "map_chapters": -1,
        }
        if video_encoder == "libx264":
            kwargs.update({"preset": preset, "crf": crf, "profile:v": "high"})
        else:
            kwargs.update({"rc": "vbr", "cq": crf, "b:v": 5_000_000, "profile:v": "high"})
        if pr.has_audio:
            kwargs.update({"c:a": "aac", "b:a": AUDIO_BITRATE, "ar": 48_000})
        cmd = ffmpeg.output(*streams, str(out_tmp), **kwargs).global_args("-loglevel", "warning").overwrite_output()
        run_ffmpeg(cmd, timeline.duration, report.phase(10, 92))
        if not out_tmp.is_file() or out_tmp.stat().st_size == 0:
            raise MediaError(NO_FRAMES, "the social cut came out empty")
        measured = (loud.meter(str(out_tmp), timeline.duration, report.phase(92, 99), demuxer=MP4_DEMUXER)
                    if pr.has_audio else None)
        out_info = probe(out_tmp)
        with contextlib.suppress(FileNotFoundError):
            dest_path.unlink()
        shutil.move(str(out_tmp), dest_path)
    report(100.0)
    loud_info = None
    if plan is not None and measured is not None:
        loud_info = {**plan.to_dict(), "output": measured.to_dict(), "within_target": loud.within(measured, target)}
    return SocialCutResult(
        path=str(dest_path),
        duration_s=out_info.duration_s,
        width=out_info.width or WIDTH,
        height=out_info.height or HEIGHT,
        mode=mode,
        cues=len(cue_list),
        font=font,
        loudness=loud_info,
        source_ranges=timeline.to_json(),
    )


def _audio_base(inp: Any) -> Any:
    return inp["a:0"].filter("aresample", 48_000, **{"async": 1}).filter(
        "aformat", sample_fmts="fltp", sample_rates=48_000, channel_layouts="stereo"
    )


def _audio(src: Path, timeline: Timeline, demuxer: str | None) -> Any:
    inp, relative = open_input(str(src), timeline, demuxer=demuxer)
    return cut_audio(_audio_base(inp), relative)
