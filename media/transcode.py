"""Transcode one source into an HLS (fMP4/CMAF) ladder, an MP4 download, an M4A and a poster.

One ffmpeg run decodes the source once and encodes every rung (split + scale per rung, audio
split per variant); the MP4 and M4A are then stream-copied out of the HLS renditions, so nothing
is ever encoded twice. All work happens in a private staging folder inside `out_dir` that is
renamed into place at the end, so a failure or cancellation never leaves partial outputs behind.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from media.errors import NO_STREAMS, MediaError
from media.ffprogress import ProgressFn, run_ffmpeg
from media.hls import (
    AAC_LC,
    Variant,
    avc_codec_string,
    master_playlist_text,
    measure_bandwidth,
    read_media_playlist,
)
from media.ladder import Rung, output_fps, plan_rungs
from media.poster import make_poster
from media.probe import ProbeResult, probe

log = logging.getLogger(__name__)

HLS_DIR = "hls"
MASTER_NAME = "master.m3u8"
MP4_NAME = "download.mp4"
AUDIO_NAME = "audio.m4a"
POSTER_NAME = "poster.jpg"
AUDIO_RUNG = "audio"
# Every name transcode() may publish into out_dir; a re-run replaces all of them.
OUTPUT_NAMES = (HLS_DIR, MP4_NAME, AUDIO_NAME, POSTER_NAME)

AUDIO_BITRATE = 128_000
AUDIO_RATE = 48_000

# Share of the progress bar per phase: the encode is nearly all of the work.
_ENCODE_END, _REMUX_END, _POSTER_END = 90.0, 96.0, 99.0


@dataclass
class Rendition:
    height: int | None  # None for the audio-only rung
    width: int | None
    bandwidth: int  # bits/s as declared in the master playlist (measured peak segment rate)
    playlist: str  # relative to out_dir, e.g. "hls/720p.m3u8"
    codecs: str  # e.g. 'avc1.64001f,mp4a.40.2'


@dataclass
class TranscodeResult:
    master_playlist: str  # relative to out_dir, e.g. "hls/master.m3u8"
    renditions: list[Rendition]  # video rungs largest first, then the audio-only rung
    mp4: str | None  # relative; None for audio-only sources
    audio: str | None  # relative m4a, None when the source has no audio
    poster: str | None  # relative jpg
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EncodeOptions:
    preset: str = "veryfast"
    crf: int = 23
    segment_s: float = 4.0
    gop_s: float = 2.0
    video_encoder: str = "libx264"
    threads: int = 0


def transcode(
    src: str | Path,
    out_dir: str | Path,
    probe_result: ProbeResult | None = None,
    *,
    heights: Sequence[int] = (1080, 720, 480, 360),
    progress: Callable[[float], None] | None = None,
    preset: str = "veryfast",
    crf: int = 23,
    segment_s: float = 4.0,
    gop_s: float = 2.0,
    video_encoder: str = "libx264",
    threads: int = 0,
) -> TranscodeResult:
    """Transcode `src` into `out_dir` (paths in the result are relative to `out_dir`).

    Raises MediaError for unusable input or an ffmpeg failure; any exception raised by
    `progress` (cancellation) stops ffmpeg and propagates. On any failure `out_dir` is left exactly
    as it was (and removed again if this call created it). On success, outputs of an earlier run
    with the same names (hls/, download.mp4, audio.m4a, poster.jpg) are replaced. `src` is only read.
    """
    opts = EncodeOptions(preset, crf, segment_s, gop_s, video_encoder, threads)
    _check_options(opts)
    src_path = Path(src).resolve()
    out = Path(out_dir).resolve()
    pr = probe_result if probe_result is not None else probe(src_path)
    if not (pr.has_video or pr.has_audio):
        raise MediaError(NO_STREAMS, str(src_path))
    _guard_source(src_path, out)

    created_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    # Dot-prefixed so a directory listing / web server never serves it mid-way.
    stage = Path(tempfile.mkdtemp(prefix=".transcode-", dir=out))
    report = _Monotonic(progress)
    try:
        result = _transcode_in(stage, src_path, pr, list(heights), opts, report)
        report(100.0)
        _publish(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created_out:
            _rmdir_if_empty(out)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return result


def _transcode_in(
    stage: Path, src: Path, pr: ProbeResult, heights: list[int], opts: EncodeOptions, report: _Monotonic
) -> TranscodeResult:
    (stage / HLS_DIR).mkdir()
    rungs: list[Rung] = []
    fps: Fraction | None = None
    if pr.has_video:
        if not pr.width or not pr.height:
            raise ValueError("probe_result says has_video but gives no dimensions")
        rungs = plan_rungs(pr.width, pr.height, heights)
        fps = output_fps(pr.fps)

    cmd = build_encode_command(src, rungs, fps, pr.has_audio, opts)
    run_ffmpeg(cmd, pr.duration_s, report.phase(0.0, _ENCODE_END), cwd=stage)

    renditions, variants = _describe_variants(stage, rungs, fps, pr.has_audio)
    (stage / HLS_DIR / MASTER_NAME).write_text(master_playlist_text(_start_order(variants)), encoding="utf-8")

    mp4 = MP4_NAME if rungs else None
    audio = AUDIO_NAME if pr.has_audio else None
    remux = build_remux_command(rungs[0].name if rungs else None, pr.has_audio)
    run_ffmpeg(remux, pr.duration_s, report.phase(_ENCODE_END, _REMUX_END), cwd=stage)
    report(_REMUX_END)

    poster_ok = make_poster(
        src,
        stage / POSTER_NAME,
        duration_s=pr.duration_s,
        has_video=pr.has_video,
        display_w=pr.width,
        display_h=pr.height,
    )
    report(_POSTER_END)

    return TranscodeResult(
        master_playlist=f"{HLS_DIR}/{MASTER_NAME}",
        renditions=renditions,
        mp4=mp4,
        audio=audio,
        poster=POSTER_NAME if poster_ok else None,
        duration_s=_output_duration(stage / (mp4 or audio or "")) or pr.duration_s,
    )


def build_encode_command(
    src: Path, rungs: list[Rung], fps: Fraction | None, has_audio: bool, opts: EncodeOptions
) -> Any:
    """The single ffmpeg run (as an ffmpeg-python node), with paths relative to the staging dir."""
    inp = ffmpeg.input(str(src))
    n_video = len(rungs)
    videos: list[Any] = []
    if n_video:
        # V (capital) skips cover-art streams. bwdif only touches frames flagged interlaced
        # (camcorder/broadcast 1080i); fps= makes the output constant-rate (phones record VFR).
        # Both run after autorotation, which ffmpeg inserts at the decoder.
        v = inp["V:0"].filter("bwdif", mode="send_frame", deint="interlaced").filter("fps", fps=str(fps))
        branches = [v] if n_video == 1 else [v.filter_multi_output("split", n_video).stream(i) for i in range(n_video)]
        for branch, rung in zip(branches, rungs, strict=True):
            # Explicit even size + setsar=1: square pixels even from anamorphic sources.
            videos.append(
                branch.filter("scale", rung.width, rung.height).filter("setsar", "1").filter("format", "yuv420p")
            )
    audios: list[Any] = []
    if has_audio:
        # Resample once to 48 kHz stereo (5.1 downmix / mono upmix happen here); async=1 pads gaps
        # and trims overlaps so audio stays in sync with broken timestamps.
        a = (
            inp["a:0"]
            .filter("aresample", AUDIO_RATE, **{"async": 1})
            .filter("aformat", sample_fmts="fltp", sample_rates=AUDIO_RATE, channel_layouts="stereo")
        )
        n_audio = n_video + 1  # one muxed into each video variant, plus the audio-only rung
        audios = [a] if n_audio == 1 else [a.filter_multi_output("asplit", n_audio).stream(i) for i in range(n_audio)]

    streams: list[Any] = []
    var_map: list[str] = []
    for i, rung in enumerate(rungs):
        streams.append(videos[i])
        if has_audio:
            streams.append(audios[i])
            var_map.append(f"v:{i},a:{i},name:{rung.name}")
        else:
            var_map.append(f"v:{i},name:{rung.name}")
    if has_audio:
        streams.append(audios[n_video])
        var_map.append(f"a:{n_video},name:{AUDIO_RUNG}")

    kwargs: dict[str, Any] = {
        "f": "hls",
        "hls_time": opts.segment_s,
        "hls_playlist_type": "vod",
        "hls_list_size": 0,
        "hls_segment_type": "fmp4",
        "hls_flags": "independent_segments",
        "hls_segment_filename": f"{HLS_DIR}/%v_%05d.m4s",
        "hls_fmp4_init_filename": "%v_init.mp4",
        "master_pl_name": MASTER_NAME,  # rewritten afterwards with measured values
        "var_stream_map": " ".join(var_map),
        # No GPS position, device names or chapters from the phone in public outputs.
        "map_metadata": -1,
        "map_chapters": -1,
        "max_muxing_queue_size": 4096,
        "threads": opts.threads,
    }
    if has_audio:
        kwargs.update({"c:a": "aac", "b:a": AUDIO_BITRATE})
    if n_video:
        kwargs.update(_video_encoder_args(rungs, fps, opts))
    return (
        ffmpeg.output(*streams, f"{HLS_DIR}/%v.m3u8", **kwargs).global_args("-loglevel", "warning").overwrite_output()
    )


def _video_encoder_args(rungs: list[Rung], fps: Fraction | None, opts: EncodeOptions) -> dict[str, Any]:
    gop = max(1, round(opts.gop_s * float(fps or 25)))
    args: dict[str, Any] = {
        "c:v": opts.video_encoder,
        # Same forced keyframe times on every rung => segment boundaries align => clean ABR switches.
        "force_key_frames:v": f"expr:gte(t,n_forced*{opts.gop_s:g})",
        "g:v": gop,
    }
    for i, rung in enumerate(rungs):
        args[f"maxrate:v:{i}"] = rung.maxrate
        args[f"bufsize:v:{i}"] = rung.bufsize
    enc = opts.video_encoder
    if enc == "libx264":
        args.update(
            {
                "profile:v": "high",
                "preset:v": opts.preset,
                "crf:v": opts.crf,
                "keyint_min:v": gop,
                "sc_threshold:v": 0,  # no extra scene-cut keyframes that would differ per rung
            }
        )
    else:
        # Hardware encoders have no CRF; aim a VBR average below the cap. Untested outside NVENC docs.
        for i, rung in enumerate(rungs):
            args[f"b:v:{i}"] = int(rung.maxrate * 0.6)
        if enc.endswith("_nvenc"):
            args.update({"rc:v": "vbr", "cq:v": opts.crf, "forced-idr:v": 1, "profile:v": "high"})
    return args


def build_remux_command(top_rung: str | None, has_audio: bool) -> Any:
    """Stream-copy the MP4 (top rung, with its audio) and the M4A out of the finished HLS renditions."""
    outputs = []
    if top_rung:
        top = ffmpeg.input(f"{HLS_DIR}/{top_rung}.m3u8")
        # Explicit maps: with two inputs ffmpeg's automatic selection could take audio from either.
        streams = [top["v:0"], top["a:0"]] if has_audio else [top["v:0"]]
        outputs.append(ffmpeg.output(*streams, MP4_NAME, c="copy", movflags="+faststart"))
    if has_audio:
        aud = ffmpeg.input(f"{HLS_DIR}/{AUDIO_RUNG}.m3u8")
        outputs.append(aud["a:0"].output(AUDIO_NAME, c="copy", movflags="+faststart"))
    return ffmpeg.merge_outputs(*outputs).global_args("-loglevel", "warning").overwrite_output()


def _describe_variants(
    stage: Path, rungs: list[Rung], fps: Fraction | None, has_audio: bool
) -> tuple[list[Rendition], list[Variant]]:
    renditions: list[Rendition] = []
    variants: list[Variant] = []
    hls = stage / HLS_DIR
    for rung in rungs:
        pl = read_media_playlist(hls / f"{rung.name}.m3u8")
        if pl.init is None or not pl.segments:
            raise MediaError("ffmpeg_failed", f"rendition {rung.name} has no segments")
        codecs = avc_codec_string(hls / pl.init) + (f",{AAC_LC}" if has_audio else "")
        peak, avg = measure_bandwidth(pl)
        variants.append(Variant(f"{rung.name}.m3u8", peak, avg, codecs, (rung.width, rung.height), fps))
        renditions.append(Rendition(rung.height, rung.width, peak, f"{HLS_DIR}/{rung.name}.m3u8", codecs))
    if has_audio:
        pl = read_media_playlist(hls / f"{AUDIO_RUNG}.m3u8")
        if not pl.segments:
            raise MediaError("ffmpeg_failed", "audio rendition has no segments")
        peak, avg = measure_bandwidth(pl)
        variants.append(Variant(f"{AUDIO_RUNG}.m3u8", peak, avg, AAC_LC))
        renditions.append(Rendition(None, None, peak, f"{HLS_DIR}/{AUDIO_RUNG}.m3u8", AAC_LC))
    return renditions, variants


def _start_order(variants: list[Variant]) -> list[Variant]:
    """Players start with the first listed variant: put the largest rung <= 480 lines first (a quick
    start on mobile networks), then the other video rungs largest first, then audio-only."""
    video = [v for v in variants if v.resolution]
    audio = [v for v in variants if not v.resolution]
    if not video:
        return audio
    small = [v for v in video if v.resolution and min(v.resolution) <= 480]
    first = small[0] if small else video[-1]
    return [first] + [v for v in video if v is not first] + audio


def _output_duration(path: Path) -> float | None:
    if not path.is_file():
        return None
    try:
        info = ffmpeg.probe(str(path), v="error")
        return round(float(info["format"]["duration"]), 3)
    except (ffmpeg.Error, KeyError, ValueError):
        return None


def _publish(stage: Path, out: Path) -> None:
    """Move finished outputs into `out`, replacing outputs of an earlier run of the same job."""
    trash = stage / ".old"
    trash.mkdir()
    for name in OUTPUT_NAMES:
        old = out / name
        if old.exists() or old.is_symlink():
            old.rename(trash / name)  # same filesystem: atomic, and removed with the stage dir
        new = stage / name
        if new.exists():
            new.rename(old)


def _guard_source(src: Path, out: Path) -> None:
    for name in OUTPUT_NAMES:
        target = out / name
        if src == target or target in src.parents:
            raise ValueError(f"source {src} would be overwritten by transcode outputs in {out}")


def _check_options(opts: EncodeOptions) -> None:
    if opts.gop_s <= 0 or opts.segment_s <= 0:
        raise ValueError("gop_s and segment_s must be positive")
    if opts.segment_s < opts.gop_s:
        raise ValueError("segment_s must be at least gop_s: segments can only start at keyframes")
    if not 0 <= opts.crf <= 51:
        raise ValueError("crf must be within 0..51")


def _rmdir_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


class _Monotonic:
    """Forwards strictly increasing percentages to the caller's callback (if any)."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.last = -1.0

    def __call__(self, pct: float) -> None:
        pct = round(max(0.0, min(100.0, pct)), 2)
        if self.callback is not None and pct > self.last:
            self.last = pct
            self.callback(pct)

    def phase(self, start: float, end: float) -> ProgressFn:
        """A 0..100 callback for one step, mapped onto [start, end] of the whole job."""
        return lambda p: self(start + (end - start) * p / 100.0)
