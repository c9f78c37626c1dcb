"""Describe a media file with ffprobe and reject inputs a user must fix before transcoding."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from media.errors import (
    EMPTY_FILE,
    NO_STREAMS,
    NOT_MEDIA,
    PLAYLIST,
    TOO_LARGE_DIMENSIONS,
    TRUNCATED,
    UNSUPPORTED_CODEC,
    MediaError,
)
from media.isobmff import is_isobmff, truncation_problem
from media.safe_input import INDIRECT_DEMUXERS, check_demuxer, check_file_name, input_options, refused_demuxer

# Beyond 8K the decode alone would stall a worker for a long time, and nobody uploads that to a
# video-conference archive on purpose.
MAX_SIDE = 8192
MAX_PIXELS = 8192 * 4320

_NON_MEDIA_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf"}


@dataclass
class ProbeResult:
    duration_s: float
    size_bytes: int
    format_name: str
    has_video: bool
    has_audio: bool
    width: int | None  # display width: coded width x sample aspect ratio, after rotation
    height: int | None  # display height after rotation
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    audio_channels: int | None
    audio_sample_rate: int | None
    rotation: int  # clockwise degrees a player turns the coded picture (0/90/180/270), like the MP4 'rotate' tag

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(path: str | Path) -> ProbeResult:
    """Probe `path`. Raises MediaError for unusable input, FileNotFoundError if it does not exist.

    Only the demuxers of media.safe_input are tried, and ffprobe may open nothing but `path`: a
    playlist or concat script (whatever its name) is refused with PLAYLIST, never followed.
    """
    p = Path(path).resolve()  # absolute: a name starting with '-' or 'proto:' can't be misread
    size = p.stat().st_size
    if not p.is_file():
        raise ValueError(f"not a regular file: {p}")
    check_file_name(p.name)
    if size == 0:
        raise MediaError(EMPTY_FILE, str(p))

    isobmff = is_isobmff(p)
    try:
        info = ffmpeg.probe(str(p), v="error", **input_options())
    except ffmpeg.Error as exc:
        detail = _tail(exc.stderr)
        refused = refused_demuxer(_tail(exc.stderr, lines=1000))
        if refused is not None:
            # ffmpeg recognised the file as a format we do not read (a playlist, an image, text).
            raise MediaError(PLAYLIST if refused in INDIRECT_DEMUXERS else NOT_MEDIA, detail) from None
        # An MP4/MOV header we recognise but cannot read almost always means an interrupted upload
        # or a recording that was never finalised (moov written last) - tell the user that.
        raise MediaError(TRUNCATED if isobmff else NOT_MEDIA, detail) from None
    if isobmff and (problem := truncation_problem(p)):
        raise MediaError(TRUNCATED, problem)
    return _from_ffprobe(info, size)


def _from_ffprobe(info: dict[str, Any], size: int) -> ProbeResult:
    fmt = info.get("format") or {}
    format_name = str(fmt.get("format_name") or "")
    streams: list[dict[str, Any]] = info.get("streams") or []
    check_demuxer(format_name)  # ffprobe already kept to the list; this keeps the rule if it ever did not

    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is not None and video.get("codec_name") in _NON_MEDIA_VIDEO_CODECS:
        raise MediaError(NOT_MEDIA, f"video codec {video.get('codec_name')!r} is text art")
    if video is None and audio is None:
        raise MediaError(NO_STREAMS, f"streams: {[s.get('codec_type') for s in streams]}")
    for s in (video, audio):
        if s is not None and not _decodable(s.get("codec_name")):
            what = f"{s.get('codec_type')} codec {s.get('codec_name')!r}"
            raise MediaError(UNSUPPORTED_CODEC, f"{what} cannot be decoded by this ffmpeg")

    width = height = None
    fps = None
    rotation = 0
    if video is not None:
        coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
        if coded_w <= 0 or coded_h <= 0:
            raise MediaError(UNSUPPORTED_CODEC, f"video stream without dimensions ({video.get('codec_name')})")
        if max(coded_w, coded_h) > MAX_SIDE or coded_w * coded_h > MAX_PIXELS:
            raise MediaError(TOO_LARGE_DIMENSIONS, f"{coded_w}x{coded_h}")
        width = coded_w
        sar = _ratio(video.get("sample_aspect_ratio"))
        if sar and sar != 1:
            width = max(1, round(coded_w * sar))  # anamorphic: display width differs from coded width
        height = coded_h
        rotation = _rotation(video)
        if rotation in (90, 270):
            width, height = height, width
        fps = _fps(video)

    return ProbeResult(
        duration_s=_duration(fmt, streams),
        size_bytes=size,
        format_name=format_name,
        has_video=video is not None,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=fps,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
        audio_sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        rotation=rotation,
    )


def _is_cover_art(stream: dict[str, Any]) -> bool:
    # Album art in m4a/mp3 shows up as a one-frame video stream; it does not make the file a video.
    disp = stream.get("disposition") or {}
    return bool(disp.get("attached_pic") or disp.get("timed_thumbnails"))


def _ratio(value: Any) -> Fraction | None:
    try:
        num, den = (int(x) for x in str(value).split(":" if ":" in str(value) else "/"))
    except (ValueError, TypeError):
        return None
    return Fraction(num, den) if num > 0 and den > 0 else None


def _fps(video: dict[str, Any]) -> float | None:
    # avg_frame_rate reflects VFR phone footage better; r_frame_rate is the fallback for raw streams.
    for key in ("avg_frame_rate", "r_frame_rate"):
        rate = _ratio(video.get(key))
        if rate is not None and 0 < rate <= 1000:
            return round(float(rate), 3)
    return None


def _rotation(video: dict[str, Any]) -> int:
    """Clockwise display rotation. The display matrix angle is counter-clockwise, the legacy tag clockwise."""
    for side in video.get("side_data_list") or []:
        if "rotation" in side:
            try:
                return _quarter(-float(side["rotation"]))
            except (TypeError, ValueError):
                break
    tag = (video.get("tags") or {}).get("rotate")
    try:
        return _quarter(float(tag)) if tag is not None else 0
    except ValueError:
        return 0


def _quarter(degrees: float) -> int:
    return (round(degrees / 90) * 90) % 360


def _duration(fmt: dict[str, Any], streams: list[dict[str, Any]]) -> float:
    candidates = [fmt.get("duration")] + [s.get("duration") for s in streams]
    for value in candidates:
        try:
            d = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if d > 0:
            return round(d, 3)
    return 0.0


def _decodable(codec: str | None) -> bool:
    if not codec or codec in ("none", "unknown"):
        return False
    decoders = _decodable_codecs()
    return not decoders or codec in decoders  # empty set: listing failed, let ffmpeg decide later


@functools.lru_cache(maxsize=1)
def _decodable_codecs() -> frozenset[str]:
    """Codec names this ffmpeg build can decode (`ffmpeg -codecs`, flag column starts with D)."""
    try:
        out = subprocess.run(
            ["ffmpeg", "-hide_banner", "-codecs"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # Rows look like " DEV.LS h264   H.264 / AVC ..."; the legend rows above have "=" in them.
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "D" and "=" not in line:
            names.add(parts[1])
    return frozenset(names)


def _tail(stderr: bytes | str | None, lines: int = 8) -> str:
    if not stderr:
        return ""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return "\n".join(text.strip().splitlines()[-lines:])
