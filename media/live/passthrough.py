"""Relay passthrough: forward the parent's encoded packets to this node's viewers, untouched.

A relay does not need to decode and encode again: its parent already produced both renditions.
aiortc's receiver reassembles each encoded frame (jitter buffer, NACK) and hands it to a decoder
thread through a queue; `tap()` replaces that queue with one that turns each frame into an
`av.Packet` for this node's rendition instead. The decoder thread keeps its own (now idle) queue
and still gets the `None` that stops it. Keyframe requests from this node's viewers go upstream
as PLI on the uplink, rate-limited like the origin's encoder.
"""
from __future__ import annotations

import asyncio
import fractions
import logging
import time

import av

from .aiortc_internals import remote_ssrcs, send_pli, wrap_decoder_queue

log = logging.getLogger(__name__)

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)


def h264_is_keyframe(data: bytes) -> bool:
    """True when an Annex-B access unit holds an IDR slice (or SPS, which only starts a keyframe)."""
    i, n = 0, len(data)
    while True:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= n:
            return False
        nal_type = data[i + 3] & 0x1F
        if nal_type in (5, 7):
            return True
        i += 3


class Timeline:
    """Keeps the timestamps a relay hands out continuous across uplink reconnections."""

    def __init__(self, step: int):
        self.step = step
        self.offset = 0
        self.last: int | None = None
        self._fresh = True

    def restart(self) -> None:
        self._fresh = True

    def map(self, ts: int) -> int:
        if self._fresh:
            self.offset = (self.last + self.step - ts) if self.last is not None else -ts
            self._fresh = False
        out = ts + self.offset
        if self.last is not None and out <= self.last:
            out = self.last + 1
        self.last = out
        return out


class _Tap:
    """Stands in for the receiver's decoder queue (only `put` is used on it)."""

    def __init__(self, original, kind: str, sink, timeline: Timeline):
        self.original = original
        self.kind = kind
        self.sink = sink
        self.timeline = timeline
        self.frames = 0
        self.last_at = 0.0

    def put(self, item) -> None:
        if item is None:               # receiver stopping: let its decoder thread end
            self.original.put(None)
            return
        _codec, frame = item
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = self.timeline.map(frame.timestamp)
        if self.kind == "video":
            packet.time_base = VIDEO_TIME_BASE
            packet.is_keyframe = h264_is_keyframe(frame.data)
        else:
            packet.time_base = AUDIO_TIME_BASE
        self.frames += 1
        self.last_at = time.monotonic()
        self.sink(packet)


def tap(receiver, kind: str, sink, timeline: Timeline) -> _Tap:
    return wrap_decoder_queue(receiver, lambda original: _Tap(original, kind, sink, timeline))


class UpstreamKeyframes:
    """A rendition's keyframe requests, sent as PLI to the parent (at most two a second)."""

    def __init__(self):
        self.receiver = None
        self._last = 0.0
        self._pending = False

    def request(self) -> None:
        now = time.monotonic()
        if self.receiver is None:
            return
        if now - self._last >= 0.5:
            self._last = now
            for ssrc in remote_ssrcs(self.receiver):
                asyncio.ensure_future(send_pli(self.receiver, ssrc))
        elif not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_later(0.5, self._retry)

    def _retry(self) -> None:
        self._pending = False
        self.request()
