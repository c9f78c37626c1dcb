"""Transcode one source into an HLS (fMP4/CMAF) ladder, an MP4 download, an M4A, a poster, thumbnails
and a storyboard.

One ffmpeg run decodes the source once and encodes every rung (split + scale per rung) and the
audio once: every video variant plays the one audio rendition through an HLS audio group
(EXT-X-MEDIA TYPE=AUDIO) instead of carrying its own copy. The MP4 and M4A are then stream-copied out of
the HLS renditions, so nothing is ever encoded twice. Pictures come from the finished outputs
(already upright, deinterlaced and cut), the storyboard from the smallest rung's keyframes. An
edit (`timeline`: the kept ranges of the source) is applied inside the same run, and loudness
normalisation (`loudness`) is the second pass of a two-pass EBU R128 normalisation whose first
pass reads the audio only.

All work happens in a private staging folder inside `out_dir` that is renamed into place at the
end, so a failure or cancellation never leaves partial outputs behind.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from media import loudness as loud
from media.errors import NO_FRAMES, NO_STREAMS, MediaError
from media.ffprogress import Monotonic, run_ffmpeg
from media.hls import (
    AAC_LC,
    AUDIO_GROUP,
    AudioTrack,
    Variant,
    avc_codec_string,
    master_playlist_text,
    measure_bandwidth,
    read_media_playlist,
)
from media.ladder import Rung, output_fps, plan_rungs
from media.poster import THUMB_BOXES, make_pictures
from media.probe import ProbeResult, probe
from media.safe_input import MP4_DEMUXER, input_options, own_hls_input
from media.storyboard import SPRITE_NAME, VTT_NAME, make_storyboard
from media.timeline import Timeline, cut_audio, cut_video, open_input

log = logging.getLogger(__name__)

HLS_DIR = "hls"
MASTER_NAME = "master.m3u8"
MP4_NAME = "download.mp4"
AUDIO_NAME = "audio.m4a"
POSTER_NAME = "poster.jpg"
AUDIO_RUNG = "audio"
THUMB_NAMES = tuple(f"thumb-{name}.jpg" for name in THUMB_BOXES)
# Every name transcode() may publish into out_dir; a re-run replaces all of them.
OUTPUT_NAMES = (HLS_DIR, MP4_NAME, AUDIO_NAME, POSTER_NAME, *THUMB_NAMES, SPRITE_NAME, VTT_NAME)

AUDIO_BITRATE = 128_000
AUDIO_RATE = 48_000

# Share of the progress bar per phase: the encode is nearly all of the work.
_LOUDNESS_END, _ENCODE_END, _REMUX_END, _METER_END, _POSTER_END = 8.0, 90.0, 94.0, 96.0, 98.0


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
    thumbnails: dict[str, str] = field(default_factory=dict)  # "large"/"small" -> relative jpg
    storyboard: dict[str, Any] | None = None  # media.storyboard.Storyboard as a dict
    loudness: dict[str, Any] | None = None  # the plan (target, mode, gain, input) and "output" as measured
    video_encoder: str | None = None
    timeline: list[list[float]] | None = None  # the kept source ranges when the output is an edit
    poster_time_s: float | None = None

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
    timeline: Timeline | None = None,
    loudness: loud.LoudnessTarget | None = None,
    pictures: bool = True,
) -> TranscodeResult:
    """Transcode `src` into `out_dir` (paths in the result are relative to `out_dir`).

    `timeline` keeps only those source ranges (an editor's trim); `loudness` normalises the audio
    to that EBU R128 target; `pictures` adds the poster, thumbnails and storyboard.

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
    if timeline is not None and timeline.source_end > pr.duration_s + 0.1:
        raise MediaError("trim_out_of_range", f"edit ends at {timeline.source_end} s, media at {pr.duration_s} s")
    _guard_source(src_path, out)

    created_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    # Dot-prefixed so a directory listing / web server never serves it mid-way.
    stage = Path(tempfile.mkdtemp(prefix=".transcode-", dir=out))
    report = Monotonic(progress)
    try:
        job = _Job(stage, src_path, pr, list(heights), opts, timeline, loudness, pictures)
        result = _transcode_in(job, report)
        report(100.0)
        _publish(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created_out:
            _rmdir_if_empty(out)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return result


@dataclass
class _Job:
    stage: Path
    src: Path
    pr: ProbeResult
    heights: list[int]
    opts: EncodeOptions
    timeline: Timeline | None
    loudness: loud.LoudnessTarget | None
    pictures: bool

    @property
    def duration(self) -> float:
        return self.timeline.duration if self.timeline is not None else self.pr.duration_s

    @property
    def demuxer(self) -> str | None:
        # The probed format, forced on every later read of the source (media.safe_input).
        return self.pr.format_name or None


def _transcode_in(job: _Job, report: Monotonic) -> TranscodeResult:
    stage, pr, opts = job.stage, job.pr, job.opts
    (stage / HLS_DIR).mkdir()
    rungs: list[Rung] = []
    fps: Fraction | None = None
    if pr.has_video:
        if not pr.width or not pr.height:
            raise ValueError("probe_result says has_video but gives no dimensions")
        rungs = plan_rungs(pr.width, pr.height, job.heights)
        fps = output_fps(pr.fps)

    plan: loud.NormalizationPlan | None = None
    encode_start = 0.0
    if job.loudness is not None and pr.has_audio:
        # Pass 1 of the normalisation reads the audio only (the video is not even decoded).
        plan = loud.prepare(
            lambda: audio_chain(job.src, job.timeline, job.demuxer), job.loudness, job.duration,
            report.phase(0.0, _LOUDNESS_END),
        )
        encode_start = _LOUDNESS_END

    cmd = build_encode_command(job.src, rungs, fps, pr.has_audio, opts, timeline=job.timeline, audio_plan=plan,
                               demuxer=job.demuxer)
    run_ffmpeg(cmd, job.duration, report.phase(encode_start, _ENCODE_END), cwd=stage)

    renditions, variants = _describe_variants(stage, rungs, fps, pr.has_audio)
    shared_audio = AudioTrack(f"{AUDIO_RUNG}.m3u8") if rungs and pr.has_audio else None
    (stage / HLS_DIR / MASTER_NAME).write_text(master_playlist_text(_start_order(variants), shared_audio),
                                               encoding="utf-8")

    mp4 = MP4_NAME if rungs else None
    audio = AUDIO_NAME if pr.has_audio else None
    remux = build_remux_command(stage / HLS_DIR, rungs[0].name if rungs else None, pr.has_audio)
    run_ffmpeg(remux, job.duration, report.phase(_ENCODE_END, _REMUX_END), cwd=stage)
    report(_REMUX_END)
    duration = _output_duration(stage / (mp4 or audio or ""))
    if not duration:
        # ffmpeg "succeeded" on streams that hold nothing (a WAV header with 0 samples, say).
        raise MediaError(NO_FRAMES, f"the outputs have no duration (source says {pr.duration_s} s)")

    loudness_info: dict[str, Any] | None = None
    if plan is not None and audio:
        measured = loud.meter(str(stage / audio), duration, report.phase(_REMUX_END, _METER_END),
                              demuxer=MP4_DEMUXER)
        within = loud.within(measured, plan.target)
        loudness_info = {**plan.to_dict(), "output": measured.to_dict(), "within_target": within}
    report(_METER_END)

    pics, storyboard = None, None
    if job.pictures:
        # From the outputs, not the source: upright, deinterlaced and already cut to the edit.
        top = rungs[0] if rungs else None
        pics = make_pictures(
            stage / (mp4 or audio or ""),
            stage,
            duration_s=duration,
            has_video=top is not None,
            display_w=top.width if top else None,
            display_h=top.height if top else None,
        )
        report(_POSTER_END)
        if rungs:
            small = rungs[-1]
            storyboard = make_storyboard(
                stage / HLS_DIR / f"{small.name}.m3u8",
                stage,
                duration_s=duration,
                width=small.width,
                height=small.height,
                keyframe_s=opts.gop_s,
                progress=report.phase(_POSTER_END, 99.5),
            ).to_dict()

    return TranscodeResult(
        master_playlist=f"{HLS_DIR}/{MASTER_NAME}",
        renditions=renditions,
        mp4=mp4,
        audio=audio,
        poster=pics.poster if pics else None,
        duration_s=duration,
        thumbnails=dict(pics.thumbnails) if pics else {},
        storyboard=storyboard,
        loudness=loudness_info,
        video_encoder=opts.video_encoder if rungs else None,
        timeline=job.timeline.to_json() if job.timeline is not None else None,
        poster_time_s=pics.time_s if pics else None,
    )


def audio_chain(src: Path, timeline: Timeline | None, demuxer: str | None = None) -> Any:
    """The source's first audio stream as the ladder hears it: 48 kHz float stereo, cut to the edit.

    Shared by the encode and the loudness analysis so that both measure the very same signal.
    """
    inp, relative = open_input(str(src), timeline, demuxer=demuxer)
    return cut_audio(_audio_format(inp["a:0"]), relative)


def _audio_format(stream: Any) -> Any:
    # Resample once to 48 kHz stereo (5.1 downmix / mono upmix happen here); async=1 pads gaps
    # and trims overlaps so audio stays in sync with broken timestamps.
    return stream.filter("aresample", AUDIO_RATE, **{"async": 1}).filter(
        "aformat", sample_fmts="fltp", sample_rates=AUDIO_RATE, channel_layouts="stereo"
    )


def build_encode_command(
    src: Path,
    rungs: list[Rung],
    fps: Fraction | None,
    has_audio: bool,
    opts: EncodeOptions,
    *,
    timeline: Timeline | None = None,
    audio_plan: loud.NormalizationPlan | None = None,
    audio_rung: bool = True,
    demuxer: str | None = None,
) -> Any:
    """The single ffmpeg run (as an ffmpeg-python node), with paths relative to the staging dir.

    The audio is encoded once, as the audio-only rung that every video variant shares (an HLS
    audio group; the master playlist is written afterwards). `audio_rung=False` instead muxes a
    separately encoded copy of the audio into each video variant and leaves out the audio-only rung:
    the peers' one-pass-per-rung design that the benchmark compares against (rungs=[] with has_audio
    builds its audio-only pass). `demuxer` (the probed format) is forced on the source.
    """
    inp, relative = open_input(str(src), timeline, demuxer=demuxer)
    n_video = len(rungs)
    videos: list[Any] = []
    if n_video:
        # V (capital) skips cover-art streams. bwdif only touches frames flagged interlaced
        # (camcorder/broadcast 1080i); fps= makes the output constant-rate (phones record VFR).
        # Both run after autorotation, which ffmpeg inserts at the decoder. The edit's cuts come
        # after fps=, on constant-rate frames, so every cut lands on a frame boundary.
        v = inp["V:0"].filter("bwdif", mode="send_frame", deint="interlaced").filter("fps", fps=str(fps))
        v = cut_video(v, relative)
        # Cascade: each rung is scaled from the rung above it, not from the source. Scaling 1080p
        # three times cost 3.7 CPU-s per 20 s of video here, the cascade 0.9 (SSIM against a
        # lanczos reference: 480p 0.9984 vs 0.9988, 360p 0.9973 vs 0.9984; see docs/media.md).
        # A one-ffmpeg-per-rung design cannot do this: each of its runs starts from the source.
        prev = v
        for i, rung in enumerate(rungs):
            scaled = prev.filter("scale", rung.width, rung.height)
            if i < n_video - 1:
                pair = scaled.filter_multi_output("split", 2)
                scaled, prev = pair.stream(0), pair.stream(1)
            # Explicit even size + setsar=1: square pixels even from anamorphic sources.
            videos.append(scaled.filter("setsar", "1").filter("format", "yuv420p"))
    audios: list[Any] = []
    shared_audio = has_audio and (audio_rung or not n_video)  # else muxed into every video variant
    if has_audio:
        a = cut_audio(_audio_format(inp["a:0"]), relative)
        if audio_plan is not None:
            a = loud.apply(a, audio_plan)
        n_audio = 1 if shared_audio else n_video
        audios = [a] if n_audio == 1 else [a.filter_multi_output("asplit", n_audio).stream(i) for i in range(n_audio)]

    streams: list[Any] = []
    var_map: list[str] = []
    for i, rung in enumerate(rungs):
        streams.append(videos[i])
        if has_audio and not shared_audio:
            streams.append(audios[i])
            var_map.append(f"v:{i},a:{i},name:{rung.name}")
        else:
            var_map.append(f"v:{i},name:{rung.name}")
    if shared_audio:
        streams.append(audios[0])
        var_map.append(f"a:0,name:{AUDIO_RUNG}")

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
        # Hardware encoders have no CRF; aim a VBR average below the cap. The NVENC options follow
        # ffmpeg's nvenc documentation; no GPU was available to measure them (see docs/media.md).
        for i, rung in enumerate(rungs):
            args[f"b:v:{i}"] = int(rung.maxrate * 0.6)
        if enc.endswith("_nvenc"):
            args.update(
                {
                    "preset:v": NVENC_PRESETS.get(opts.preset, "p4"),
                    "tune:v": "hq",
                    "rc:v": "vbr",
                    "cq:v": opts.crf,
                    "profile:v": "high",
                    "forced-idr:v": 1,  # the forced keyframes become IDR frames: closed, aligned GOPs
                    "no-scenecut:v": 1,  # as sc_threshold=0 for x264: no extra keyframes per rung
                    "strict_gop:v": 1,
                }
            )
    return args


# x264 preset -> NVENC preset of roughly the same speed/quality position (p1 fastest .. p7 best).
NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p4",
    "medium": "p5",
    "slow": "p6",
    "slower": "p7",
    "veryslow": "p7",
}


def build_remux_command(hls_dir: Path, top_rung: str | None, has_audio: bool) -> Any:
    """Stream-copy the MP4 (top rung's video + the shared audio) and the M4A out of the finished HLS
    renditions in `hls_dir` (outputs relative to the staging folder)."""
    outputs = []
    aud = own_hls_input(hls_dir / f"{AUDIO_RUNG}.m3u8") if has_audio else None
    if top_rung:
        top = own_hls_input(hls_dir / f"{top_rung}.m3u8")
        # Explicit maps: with two inputs ffmpeg's automatic selection could take a stream from either.
        streams = [top["v:0"], aud["a:0"]] if aud is not None else [top["v:0"]]
        outputs.append(ffmpeg.output(*streams, MP4_NAME, c="copy", movflags="+faststart"))
    if aud is not None:
        outputs.append(aud["a:0"].output(AUDIO_NAME, c="copy", movflags="+faststart"))
    # -copyts: video and audio come from two playlists of one encode, on one timeline; without it
    # ffmpeg would shift each input to start at zero on its own and move the sound against the picture.
    return ffmpeg.merge_outputs(*outputs).global_args("-loglevel", "warning", "-copyts").overwrite_output()


def _describe_variants(
    stage: Path, rungs: list[Rung], fps: Fraction | None, has_audio: bool
) -> tuple[list[Rendition], list[Variant]]:
    renditions: list[Rendition] = []
    variants: list[Variant] = []
    hls = stage / HLS_DIR
    audio_peak = audio_avg = 0
    if has_audio:
        pl = read_media_playlist(hls / f"{AUDIO_RUNG}.m3u8")
        if not pl.segments:
            raise MediaError(NO_FRAMES, "audio rendition has no segments: the audio stream has no samples")
        audio_peak, audio_avg = measure_bandwidth(pl)
    for rung in rungs:
        pl = read_media_playlist(hls / f"{rung.name}.m3u8")
        if pl.init is None or not pl.segments:
            raise MediaError(NO_FRAMES, f"rendition {rung.name} has no segments: the video stream has no frames")
        # A variant's BANDWIDTH and CODECS cover what a player fetches for it: its video and the shared audio.
        codecs = avc_codec_string(hls / pl.init) + (f",{AAC_LC}" if has_audio else "")
        peak, avg = measure_bandwidth(pl)
        peak, avg = peak + audio_peak, avg + audio_avg
        group = AUDIO_GROUP if has_audio else None
        variants.append(Variant(f"{rung.name}.m3u8", peak, avg, codecs, (rung.width, rung.height), fps, group))
        renditions.append(Rendition(rung.height, rung.width, peak, f"{HLS_DIR}/{rung.name}.m3u8", codecs))
    if has_audio:
        variants.append(Variant(f"{AUDIO_RUNG}.m3u8", audio_peak, audio_avg, AAC_LC))
        renditions.append(Rendition(None, None, audio_peak, f"{HLS_DIR}/{AUDIO_RUNG}.m3u8", AAC_LC))
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
        info = ffmpeg.probe(str(path), v="error", **input_options(MP4_DEMUXER))
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
