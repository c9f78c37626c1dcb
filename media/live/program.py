"""The program: one decoded feed in, one encoded stream per rendition out.

Publishers' tracks are decoded by aiortc (once per publisher). The program keeps, for each source,
the latest decoded video frame and a short FIFO of audio; on its own clock it takes the frame of
the source that has the floor (or a slate when that source has nothing), fits it to 16:9 once,
and encodes it once per rendition. Every subscriber of a rendition is handed the very same
`av.Packet` objects, so the per-viewer cost is packetising and sending, never encoding.

A keyframe can be requested by any subscriber (PLI/FIR, a join, a rendition switch); requests are
shared and rate-limited per rendition, so a hundred late joiners cost one keyframe, not a hundred.
"""
from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import av
import numpy as np
from av import AudioFrame, VideoFrame

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_RATE = 48000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
AUDIO_PTIME_SAMPLES = 960           # 20 ms Opus frames
KEYFRAME_MIN_INTERVAL_S = 0.5       # at most two forced keyframes a second per rendition
GOP_S = 4                           # natural keyframe interval; PLI covers joiners in between
SOURCE_STALE_S = 2.0                # a source whose last frame is older shows the slate
AUDIO_MAX_BUFFER_S = 0.3            # bounded latency: older audio is dropped


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    width: int
    height: int
    bitrate: int


DEFAULT_RENDITIONS = (RenditionSpec("720p", 1280, 720, 1_500_000), RenditionSpec("360p", 640, 360, 500_000))


def parse_renditions(text: str) -> tuple[RenditionSpec, ...]:
    """"1280x720@1500,640x360@500" (kbit/s) → specs, highest first."""
    specs = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        size, _, kbps = item.partition("@")
        w, _, h = size.partition("x")
        specs.append(RenditionSpec(f"{int(h)}p", int(w), int(h), int(kbps or 1000) * 1000))
    return tuple(sorted(specs, key=lambda s: -s.width * s.height))


class Source:
    """One publisher's decoded media, read from its aiortc tracks."""

    def __init__(self, source_id: str):
        self.source_id = source_id
        self.video: VideoFrame | None = None
        self.video_at = 0.0
        self.audio_at = 0.0
        self.frames_in = 0
        self._fifo = av.AudioFifo()
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)
        self._tasks: list[asyncio.Task] = []

    def attach(self, track) -> None:
        reader = self._read_video if track.kind == "video" else self._read_audio
        self._tasks.append(asyncio.ensure_future(reader(track)))

    def fresh(self, now: float) -> bool:
        return self.video is not None and now - self.video_at < SOURCE_STALE_S

    @property
    def last_activity(self) -> float:
        return max(self.video_at, self.audio_at)

    async def _read_video(self, track) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                self.video, self.video_at = frame, time.monotonic()
                self.frames_in += 1

    async def _read_audio(self, track) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                self.audio_at = time.monotonic()
                for out in self._resampler.resample(frame):
                    out.pts = None
                    self._fifo.write(out)
                excess = self._fifo.samples - int(AUDIO_MAX_BUFFER_S * AUDIO_RATE)
                if excess > 0:
                    self._fifo.read(excess)

    def take_audio(self, samples: int) -> AudioFrame | None:
        if self._fifo.samples < samples:
            return None
        return self._fifo.read(samples)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def fit_frame(frame: VideoFrame | None, width: int, height: int) -> VideoFrame:
    """Scale to fit width×height keeping the aspect ratio, letterboxed in black (yuv420p)."""
    if frame is None:
        return _slate(width, height)
    if frame.width * height == frame.height * width:
        return frame.reformat(width=width, height=height, format="yuv420p")
    scale = min(width / frame.width, height / frame.height)
    sw, sh = _even(frame.width * scale), _even(frame.height * scale)
    small = frame.reformat(width=sw, height=sh, format="yuv420p").to_ndarray()
    y = np.full((height, width), 16, np.uint8)
    u = np.full((height // 2, width // 2), 128, np.uint8)
    v = np.full((height // 2, width // 2), 128, np.uint8)
    top, left = (height - sh) // 2 // 2 * 2, (width - sw) // 2 // 2 * 2
    y[top:top + sh, left:left + sw] = small[:sh].reshape(sh, sw)
    q = sh * sw // 4
    flat = small[sh:].reshape(-1)
    u[top // 2:top // 2 + sh // 2, left // 2:left // 2 + sw // 2] = flat[:q].reshape(sh // 2, sw // 2)
    v[top // 2:top // 2 + sh // 2, left // 2:left // 2 + sw // 2] = flat[q:2 * q].reshape(sh // 2, sw // 2)
    planes = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
    return VideoFrame.from_ndarray(planes, format="yuv420p")


_SLATES: dict[tuple[int, int], VideoFrame] = {}


def _slate(width: int, height: int) -> VideoFrame:
    """Dark grey with a lighter band: shown while the source with the floor sends nothing."""
    key = (width, height)
    if key not in _SLATES:
        y = np.full((height, width), 40, np.uint8)
        y[height // 2 - height // 20:height // 2 + height // 20, :] = 70
        uv = np.full((height // 2 * width // 2 * 2,), 128, np.uint8)
        planes = np.concatenate([y.reshape(-1), uv]).reshape(height * 3 // 2, width)
        _SLATES[key] = VideoFrame.from_ndarray(planes, format="yuv420p")
    return _SLATES[key]


Sink = Callable[[av.Packet], None]


class Rendition:
    """One H.264 encoder and the sinks (subscriber tracks, the recorder) it feeds."""

    def __init__(self, spec: RenditionSpec, fps: int):
        self.spec = spec
        self.fps = fps
        self.sinks: list[Sink] = []
        self.keyframes_forced = 0
        self.keyframe_requests = 0
        self.packets_out = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"enc-{spec.name}")
        self._want_keyframe = False
        self._last_forced = 0.0
        self._codec = self._open()

    def _open(self):
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt = self.spec.width, self.spec.height, "yuv420p"
        codec.time_base = VIDEO_TIME_BASE
        codec.framerate = fractions.Fraction(self.fps, 1)
        codec.bit_rate = self.spec.bitrate
        codec.gop_size = GOP_S * self.fps
        # Baseline, no B-frames, no lookahead: one packet out per frame in, immediately. VBV caps
        # the peaks so a keyframe does not burst far past the rendition's bitrate.
        codec.options = {
            "preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "level": "3.1",
            "x264-params": (f"vbv-maxrate={self.spec.bitrate // 1000}:vbv-bufsize={self.spec.bitrate // 1000}"
                            ":repeat-headers=1:scenecut=0"),
        }
        # One thread: x264's sliced threads would add a hand-off per frame, and on a busy machine every
        # hand-off waits for the scheduler (the program is latency-bound long before it is CPU-bound).
        codec.thread_count = 1
        return codec

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._want_keyframe = True

    def _encode(self, frame: VideoFrame, pts: int) -> list[av.Packet]:
        if frame.width != self.spec.width or frame.height != self.spec.height:
            frame = frame.reformat(width=self.spec.width, height=self.spec.height, format="yuv420p")
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        now = time.monotonic()
        if self._want_keyframe and now - self._last_forced >= KEYFRAME_MIN_INTERVAL_S:
            frame.pict_type = av.video.frame.PictureType.I
            self._want_keyframe = False
            self._last_forced = now
            self.keyframes_forced += 1
        else:
            frame.pict_type = av.video.frame.PictureType.NONE
        packets = list(self._codec.encode(frame))
        for packet in packets:
            packet.time_base = VIDEO_TIME_BASE
        return packets

    async def encode(self, frame: VideoFrame, pts: int) -> None:
        loop = asyncio.get_running_loop()
        self.broadcast_all(await loop.run_in_executor(self._executor, self._encode, frame, pts))

    def broadcast_all(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self.packets_out += 1
            for sink in list(self.sinks):
                sink(packet)

    def close(self) -> None:
        self.sinks.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


class RelayRendition(Rendition):
    """A rendition of a relay node: the parent's packets pass through (media/live/passthrough.py)."""

    def __init__(self, spec: RenditionSpec, fps: int):
        from .passthrough import UpstreamKeyframes

        self.spec = spec
        self.fps = fps
        self.sinks = []
        self.keyframes_forced = 0
        self.keyframe_requests = 0
        self.packets_out = 0
        self.upstream = UpstreamKeyframes()

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self.upstream.request()

    def broadcast(self, packet: av.Packet) -> None:
        self.packets_out += 1
        for sink in list(self.sinks):
            sink(packet)

    def close(self) -> None:
        self.sinks.clear()


class AudioEncoder:
    """Opus, 48 kHz stereo, 20 ms: encoded once for every subscriber and the recorder."""

    def __init__(self):
        self.sinks: list[Sink] = []
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.sample_rate, self._codec.layout, self._codec.format = AUDIO_RATE, "stereo", "s16"
        self._codec.time_base = AUDIO_TIME_BASE
        self._codec.bit_rate = 64000
        self._codec.options = {"application": "voip", "frame_duration": "20"}
        self._silence = np.zeros((1, AUDIO_PTIME_SAMPLES * 2), np.int16)

    def encode(self, frame: AudioFrame | None, pts: int) -> None:
        if frame is None:
            frame = AudioFrame.from_ndarray(self._silence, format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, pts, AUDIO_TIME_BASE
        for packet in self._codec.encode(frame):
            packet.time_base = AUDIO_TIME_BASE
            for sink in list(self.sinks):
                sink(packet)


class AudioFan:
    """A relay's audio: the parent's Opus packets, passed through."""

    def __init__(self):
        self.sinks: list[Sink] = []

    def broadcast(self, packet: av.Packet) -> None:
        for sink in list(self.sinks):
            sink(packet)


class Program:
    """The program feed of one room: sources in, renditions and audio out, on one clock."""

    def __init__(self, renditions: tuple[RenditionSpec, ...] = DEFAULT_RENDITIONS, fps: int = 30, *,
                 passthrough: bool = False):
        self.fps = fps
        self.passthrough = passthrough
        self.renditions = [(RelayRendition if passthrough else Rendition)(spec, fps) for spec in renditions]
        self.audio = AudioFan() if passthrough else AudioEncoder()
        self.sources: dict[str, Source] = {}
        self.floor = "host"
        self.fallback = "host"        # shown while the floor's source has no picture yet
        self.t0 = time.monotonic()
        self.ticks = 0
        self.ticks_late = 0
        self.on_switch: list[Callable[[str], None]] = []
        self.frame_sinks: list[Callable] = []        # decoded program frames (naive comparison mode)
        self.audio_frame_sinks: list[Callable] = []
        self._shown: str | None = None
        self._fit_executor = ThreadPoolExecutor(1, thread_name_prefix="fit")
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.t0 = time.monotonic()
        if self.passthrough:
            return   # a relay's packets arrive encoded from its parent: no clock, no encoders
        self._tasks = [asyncio.ensure_future(self._video_loop()), asyncio.ensure_future(self._audio_loop())]

    @property
    def top(self) -> Rendition:
        return self.renditions[0]

    @property
    def bottom(self) -> Rendition:
        return self.renditions[-1]

    def rendition(self, name: str) -> Rendition | None:
        return next((r for r in self.renditions if r.spec.name == name), None)

    def add_source(self, source_id: str) -> Source:
        old = self.sources.pop(source_id, None)
        if old:
            old.close()
        source = self.sources[source_id] = Source(source_id)
        return source

    def remove_source(self, source_id: str, source: Source | None = None) -> None:
        current = self.sources.get(source_id)
        if current is not None and (source is None or current is source):
            current.close()
            del self.sources[source_id]

    def set_floor(self, floor: str) -> None:
        self.floor = floor

    def showing(self, now: float) -> Source | None:
        """The source on air: the floor's when it has a picture, else the host's, else none."""
        for source_id in (self.floor, self.fallback):
            source = self.sources.get(source_id)
            if source is not None and source.fresh(now):
                return source
        return None

    async def _video_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.fps
        next_t = time.monotonic()
        while True:
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.25:          # far behind (CPU starved): drop ticks rather than burst
                self.ticks_late += 1
                next_t = time.monotonic()
            now = time.monotonic()
            source = self.showing(now)
            shown = source.source_id if source else "slate"
            if shown != self._shown:
                # A cut: every rendition starts the new picture with a keyframe, so no viewer
                # waits for the next natural one, and nobody renegotiates anything.
                for rendition in self.renditions:
                    rendition.request_keyframe()
                previous, self._shown = self._shown, shown
                if previous is not None:
                    for callback in self.on_switch:
                        callback(shown)
            pts = int((now - self.t0) * VIDEO_CLOCK)
            try:
                # Fit and every rendition's encode in one hop to one worker thread (see thread_count).
                canvas, outputs = await loop.run_in_executor(
                    self._fit_executor, self._render, source.video if source else None, pts)
                for rendition, packets in zip(self.renditions, outputs, strict=True):
                    rendition.broadcast_all(packets)
                if self.frame_sinks:
                    canvas.pts, canvas.time_base = pts, VIDEO_TIME_BASE
                    for sink in list(self.frame_sinks):
                        sink(canvas)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad frame must not end the program
                log.exception("program tick failed")
            self.ticks += 1

    def _render(self, frame: VideoFrame | None, pts: int) -> tuple[VideoFrame, list[list[av.Packet]]]:
        top = self.top
        canvas = fit_frame(frame, top.spec.width, top.spec.height)
        return canvas, [r._encode(canvas, pts) for r in self.renditions]

    async def _audio_loop(self) -> None:
        samples = 0
        start = time.monotonic()
        while True:
            target = start + (samples + AUDIO_PTIME_SAMPLES) / AUDIO_RATE
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:
                # Starved: skip ahead in time (the audio clock must follow the wall clock).
                samples = int((time.monotonic() - start) * AUDIO_RATE) // AUDIO_PTIME_SAMPLES * AUDIO_PTIME_SAMPLES
            now = time.monotonic()
            source = self.showing(now)
            if source is None:
                source = self.sources.get(self.floor) or self.sources.get(self.fallback)
            frame = source.take_audio(AUDIO_PTIME_SAMPLES) if source else None
            if self.audio_frame_sinks and frame is not None:
                for sink in list(self.audio_frame_sinks):
                    sink(frame)
            try:
                self.audio.encode(frame, int((start - self.t0) * AUDIO_RATE) + samples)
            except Exception:
                log.exception("audio tick failed")
            samples += AUDIO_PTIME_SAMPLES

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for source in list(self.sources.values()):
            source.close()
        self.sources.clear()
        for rendition in self.renditions:
            rendition.close()
        self.audio.sinks.clear()
        self._fit_executor.shutdown(wait=False, cancel_futures=True)
