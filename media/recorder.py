"""Crash-safe recording of a live program: Matroska segments of a few seconds, joined on stop.

The program's encoded packets (the top video rendition and the Opus audio, exactly what viewers
get) are muxed, without re-encoding, into `seg-000001.mkv`, `seg-000002.mkv`… in a spool folder.
A segment ends at a keyframe once it is `segment_s` long; it is then closed, fsynced and handed to
`on_segment` (the server moves it to storage). Packets are flushed to the open segment as they
come (`flush_packets`, one-second clusters), so even the segment that a SIGKILL cuts short is
mostly readable: `finalise` repairs it by remuxing what ffmpeg can read and drops it otherwise.
`finalise` joins everything into one master file. Nothing here knows about Flask, storage or the
database: it takes folders and callables.
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from .errors import MediaError
from .safe_input import concat_list_args, input_args

log = logging.getLogger(__name__)

SEGMENT_RE = re.compile(r"^seg-(\d{6})\.mkv$")
MANIFEST = "manifest.json"
# Segments and the joined master are Matroska; ffmpeg reads them as nothing else (media.safe_input).
DEMUXER = "matroska"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(spool: Path, data: dict) -> None:
    tmp = spool / (MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, spool / MANIFEST)
    _fsync_dir(spool)


def read_manifest(spool: Path) -> dict:
    try:
        return json.loads((spool / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def segment_files(spool: Path) -> list[Path]:
    return sorted(p for p in spool.iterdir() if SEGMENT_RE.match(p.name)) if spool.exists() else []


class SegmentWriter:
    """Writes H.264 + Opus packets into rotating Matroska segments (see the module docstring)."""

    def __init__(self, spool: Path, *, segment_s: float = 2.0,
                 on_segment: Callable[[Path, float], None] | None = None,
                 request_keyframe: Callable[[], None] | None = None, fps: int = 30):
        self.spool = spool
        self.fps = fps
        spool.mkdir(parents=True, exist_ok=True)
        self.segment_s = segment_s
        self.on_segment = on_segment
        self.request_keyframe = request_keyframe
        existing = segment_files(spool)
        # A restarted server continues the numbering after what an earlier run left.
        self.index = int(SEGMENT_RE.match(existing[-1].name).group(1)) if existing else 0
        self.video_packets = 0
        self.audio_packets = 0
        self.closed_segments: list[Path] = []
        self._out = None
        self._vs = self._as = None
        self._path: Path | None = None
        self._seg_start: Fraction | None = None
        self._asked_keyframe_at: Fraction | None = None
        self._last_v: Fraction | None = None
        self._last_a: Fraction | None = None

    @property
    def recording(self) -> bool:
        return self._out is not None

    def _open(self, keyframe: av.Packet, t: Fraction) -> None:
        self.index += 1
        self._path = self.spool / f"seg-{self.index:06d}.mkv"
        # The video stream's parameters (size, SPS/PPS) come from parsing the keyframe itself.
        template = av.open(io.BytesIO(bytes(keyframe)), format="h264")
        out = av.open(str(self._path), "w", format="matroska",
                      options={"flush_packets": "1", "cluster_time_limit": "250"})
        self._vs = out.add_stream_from_template(template.streams.video[0])
        self._vs.time_base = Fraction(1, 1000)
        self._as = out.add_stream("libopus", rate=48000, layout="stereo")
        template.close()
        self._out = out
        self._seg_start = t
        self._asked_keyframe_at = None
        self._last_v = self._last_a = None

    def _close(self) -> None:
        if self._out is None:
            return
        out, path, start = self._out, self._path, self._seg_start
        self._out = None
        duration = float((self._last_v or start) - start) if start is not None else 0.0
        try:
            out.close()
        except Exception:  # a segment that cannot be finalised is repaired at join time
            log.exception("closing segment %s failed", path)
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
        _fsync_dir(self.spool)
        self.closed_segments.append(path)
        if self.on_segment:
            self.on_segment(path, duration)

    def _copy(self, packet: av.Packet, stream) -> av.Packet:
        # The program's packets are shared with every viewer's sender: mux a copy, never the original.
        # Each segment starts at 0, so its duration is its span and the concat demuxer lines them up.
        offset = int(self._seg_start / packet.time_base)
        copy = av.Packet(bytes(packet))
        copy.pts = packet.pts - offset
        copy.dts = (packet.dts if packet.dts is not None else packet.pts) - offset
        copy.time_base = packet.time_base
        # Durations make each segment's length include its last frame, so joined segments
        # neither overlap (duplicate timestamps) nor leave gaps.
        copy.duration = packet.duration or (int(1 / (self.fps * packet.time_base)) if stream is self._vs else 960)
        copy.is_keyframe = packet.is_keyframe
        copy.stream = stream
        return copy

    def video(self, packet: av.Packet) -> None:
        t = packet.pts * packet.time_base
        if self._out is not None and packet.is_keyframe and t - self._seg_start >= self.segment_s:
            self._close()
        if self._out is None:
            if not packet.is_keyframe:
                return
            self._open(packet, t)
        elif (self.request_keyframe and t - self._seg_start >= self.segment_s
              and (self._asked_keyframe_at is None or t - self._asked_keyframe_at > 1)):
            self._asked_keyframe_at = t
            self.request_keyframe()
        if self._last_v is not None and t <= self._last_v:
            return
        self._last_v = t
        self._out.mux(self._copy(packet, self._vs))
        self.video_packets += 1

    def audio(self, packet: av.Packet) -> None:
        if self._out is None:
            return
        t = packet.pts * packet.time_base
        if t < self._seg_start or (self._last_a is not None and t <= self._last_a):
            return
        self._last_a = t
        self._out.mux(self._copy(packet, self._as))
        self.audio_packets += 1

    def close(self) -> None:
        self._close()


# --- after the fact: repair, join ---------------------------------------------------------------

def probe_duration(path: Path) -> float | None:
    """Duration in seconds if ffprobe can read the file's streams, else None."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json",
         *input_args(path, DEMUXER)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None
    try:
        info = json.loads(result.stdout)
        if not info.get("streams"):
            return None
        return float(info["format"]["duration"])
    except (KeyError, ValueError, TypeError):
        return None


def repair_segment(path: Path) -> Path | None:
    """A segment that was being written when the process died: keep what ffmpeg can read."""
    fixed = path.with_name(path.stem + ".fixed.mkv")
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *input_args(path, DEMUXER, extra=["-err_detect", "ignore_err", "-fflags",
                                                                             "+discardcorrupt"]),
         "-map", "0", "-c", "copy", str(fixed)], capture_output=True, text=True, timeout=120)
    if result.returncode == 0 and (probe_duration(fixed) or 0) > 0.2:
        os.replace(fixed, path)
        return path
    fixed.unlink(missing_ok=True)
    return None


def join_segments(segments: list[Path], out: Path) -> float:
    """Concatenate segments (same codecs, all in one folder) without re-encoding; returns the
    master's duration."""
    if not segments:
        raise MediaError("no_segments", "nothing was recorded")
    out.parent.mkdir(parents=True, exist_ok=True)
    # The list sits beside the segments and names them relatively: the concat demuxer's safe mode
    # then reads nothing outside the spool.
    listing = segments[0].parent / f".{out.stem}.ffconcat"
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    try:
        concat = concat_list_args(segments, listing)
        result = subprocess.run(["ffmpeg", "-v", "error", "-y", *concat, "-map", "0", "-c", "copy", str(tmp)],
                                capture_output=True, text=True, timeout=3600)
    finally:
        listing.unlink(missing_ok=True)
    if result.returncode != 0:
        raise MediaError("join_failed", result.stderr[-2000:])
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    duration = probe_duration(out)
    if duration is None:
        raise MediaError("join_failed", "the joined master is not readable")
    return duration


def usable_segments(spool: Path, *, repair_last: bool) -> list[Path]:
    """The spool's segments that ffprobe reads; the last one is repaired when the writer died."""
    segments = segment_files(spool)
    good = []
    for i, path in enumerate(segments):
        if probe_duration(path) is not None and (not repair_last or i < len(segments) - 1):
            good.append(path)
        elif repair_last and i == len(segments) - 1:
            repaired = repair_segment(path)
            if repaired is not None:
                good.append(repaired)
            else:
                log.warning("dropping unreadable segment %s", path)
        else:
            log.warning("dropping unreadable segment %s", path)
    return good


def finalise(spool: Path, out: Path, *, crashed: bool) -> float:
    """Join the spool's segments into `out`; `crashed` repairs the segment the writer left open."""
    t = time.monotonic()
    duration = join_segments(usable_segments(spool, repair_last=crashed), out)
    log.info("joined %s (%.1f s of media) in %.1f s", out, duration, time.monotonic() - t)
    return duration
