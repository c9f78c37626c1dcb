"""Synthetic sources for tests, the benchmark and a studio "test signal": a moving pattern with the
wall-clock time written into the picture as a barcode (read back at a viewer to measure
glass-to-glass latency), and a tone."""
from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

STAMP_BITS = 44          # milliseconds since the epoch fit in 44 bits until the year 2527
STAMP_ROWS = (8, 56)     # the barcode band: big blocks survive 360p H.264 at low bitrates


class _Paced(MediaStreamTrack):
    def __init__(self, rate: float):
        super().__init__()
        self._period = 1.0 / rate
        self._start: float | None = None
        self._n = 0

    async def _wait(self) -> int:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._n * self._period
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = self._n
        self._n += 1
        return n


class PatternVideo(_Paced):
    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 30, stamp: bool = False,
                 luma: tuple[int, int] = (16, 236)):
        super().__init__(fps)
        self.width, self.height, self.fps, self.stamp = width, height, fps, stamp
        x = np.arange(width, dtype=np.int32)
        y = np.arange(height, dtype=np.int32)[:, None]
        low, high = luma   # a brightness range, so tests can tell two sources apart in the output
        self._y = ((x * 3 + y * 2) % (high - low) + low).astype(np.uint8)
        self._uv = np.full((height // 2 * width // 2 * 2,), 128, np.uint8)
        self._uv[: height // 2 * width // 2] = ((np.arange(height // 2 * width // 2) // (width // 2)) % 200 + 28)

    async def recv(self) -> VideoFrame:
        n = await self._wait()
        y = np.roll(self._y, n * 4, axis=1)
        if self.stamp:
            write_stamp(y, int(time.time() * 1000))
        planes = np.concatenate([y.reshape(-1), self._uv]).reshape(self.height * 3 // 2, self.width)
        frame = VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = int(n * 90000 / self.fps), fractions.Fraction(1, 90000)
        return frame


def _block(width: int) -> float:
    return width / (STAMP_BITS + 4)   # fractional, so positions scale exactly with the picture


def write_stamp(y: np.ndarray, value_ms: int) -> None:
    """Write `value_ms` as black/white blocks across the top of a luma plane (in place)."""
    height, width = y.shape
    block = _block(width)
    top, bottom = (int(r * height / 720) for r in STAMP_ROWS)
    bottom = max(bottom, top + 8)
    y[top:bottom, :] = 16
    for bit in range(STAMP_BITS):
        if value_ms >> (STAMP_BITS - 1 - bit) & 1:
            x0 = int((bit + 2) * block)
            y[top:bottom, x0:int((bit + 3) * block)] = 235


def read_stamp(frame: VideoFrame) -> int | None:
    """The timestamp written by PatternVideo(stamp=True), at any scale the frame was sent in."""
    y = frame.reformat(format="gray").to_ndarray()
    height, width = y.shape
    block = _block(width)
    top, bottom = (int(r * height / 720) for r in STAMP_ROWS)
    row = y[(top + max(bottom, top + 8)) // 2]
    value = 0
    for bit in range(STAMP_BITS):
        x = int((bit + 2.5) * block)
        value = value << 1 | (1 if row[max(0, x - 1):x + 2].mean() > 125 else 0)
    now = time.time() * 1000
    return value if abs(now - value) < 60_000 else None


class ToneAudio(_Paced):
    kind = "audio"

    def __init__(self, frequency: float = 440.0, rate: int = 48000, ptime_s: float = 0.02):
        super().__init__(1.0 / ptime_s)
        self.rate = rate
        self.samples = int(rate * ptime_s)
        self.frequency = frequency

    async def recv(self) -> AudioFrame:
        n = await self._wait()
        t = (np.arange(self.samples) + n * self.samples) / self.rate
        data = (np.sin(2 * math.pi * self.frequency * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = self.rate, n * self.samples, fractions.Fraction(1, self.rate)
        return frame
