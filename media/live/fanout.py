"""Subscribers: aiortc senders fed with the program's pre-encoded packets.

aiortc's RTCRtpSender packs an `av.Packet` handed to it by its track without encoding it again,
so each subscriber is one `PacketTrack` per kind reading from a small queue that the program's
encoder fills. aiortc ignores PLI/FIR on that path (it only sets a flag its own encoder reads),
so the sender's `_send_keyframe` is pointed at the shared rendition's rate-limited request, and
its RTCP handler is wrapped to read the receiver reports and REMB that drive rendition switching.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket, unpack_remb_fci

from .program import Program, Rendition

log = logging.getLogger(__name__)

QUEUE_LIMIT = {"video": 90, "audio": 50}   # ~3 s of video packets / 1 s of audio: beyond that, drop
DOWN_LOSS = 0.05          # fraction lost in a receiver report that counts as "cannot keep up"
DOWN_REMB_RATIO = 0.5     # an estimate below half of what is sent, three times running: congestion
UP_AFTER_S = 20.0         # stable time on the lower rendition before trying the top one again


class SharedPacker:
    """Packetises each encoded packet once for every sender of a rendition.

    aiortc gives each sender its own codec object whose `pack()` splits a packet into RTP payloads;
    for H.264 and Opus that split has no per-sender state, so its result is shared: with N viewers
    the split runs once instead of N times. Installed as the sender's encoder before it starts.
    """

    def __init__(self, codec):
        from aiortc.codecs import get_encoder

        self._inner = get_encoder(codec)
        self._recent: dict[int, tuple[av.Packet, tuple[list[bytes], int]]] = {}

    def pack(self, packet: av.Packet) -> tuple[list[bytes], int]:
        hit = self._recent.get(id(packet))
        if hit is not None and hit[0] is packet:
            return hit[1]
        result = self._inner.pack(packet)
        if len(self._recent) >= 64:
            self._recent.pop(next(iter(self._recent)))
        self._recent[id(packet)] = (packet, result)     # holds the packet: its id cannot be reused meanwhile
        return result

    def encode(self, frame, force_keyframe: bool = False):
        return self._inner.encode(frame, force_keyframe)


_PACKERS: dict[tuple[int, str, int], SharedPacker] = {}


def shared_packer(owner, codec) -> SharedPacker:
    """One packer per (rendition or audio encoder, codec, payload type)."""
    key = (id(owner), codec.mimeType, codec.payloadType)
    packer = _PACKERS.get(key)
    if packer is None or packer._owner is not owner:
        packer = _PACKERS[key] = SharedPacker(codec)
        packer._owner = owner
    return packer


def forget_packers(program) -> None:
    for key in [k for k in _PACKERS if k[0] == id(program)]:
        del _PACKERS[key]


class _QueuedTrack(MediaStreamTrack):
    """A track whose recv() hands out what push() queued (encoded packets or, for the naive design, frames)."""

    def __init__(self, kind: str, maxlen: int | None = None):
        super().__init__()
        self.kind = kind
        self._queue: deque = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.delivered = 0

    def backlog(self) -> int:
        return len(self._queue)

    async def recv(self):
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.delivered += 1
        return self._queue.popleft()

    def stop(self) -> None:
        super().stop()
        self._ready.set()


class PacketTrack(_QueuedTrack):
    """A track whose recv() hands out encoded packets shared with every other subscriber."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.waiting_keyframe = kind == "video"
        self.dropped = 0
        self.overflows = 0
        self.on_need_keyframe = None

    def push(self, packet: av.Packet) -> None:
        if self.readyState != "live":
            return
        if self.waiting_keyframe:
            if not packet.is_keyframe:
                return
            self.waiting_keyframe = False
        if len(self._queue) >= QUEUE_LIMIT[self.kind]:
            # This viewer's sender is not draining: drop what it has queued (stale anyway) and
            # restart it on a keyframe, instead of letting its backlog grow without end.
            self.overflows += 1
            self.dropped += len(self._queue)
            self._queue.clear()
            if self.kind == "video":
                self.waiting_keyframe = True
                if self.on_need_keyframe:
                    self.on_need_keyframe()
                return
        self._queue.append(packet)
        self._ready.set()


class Subscriber:
    """One viewer (a site, a relay node, the host's own monitor): two packet tracks and stats."""

    def __init__(self, program: Program, *, pc, label: str, site_id: int | None = None,
                 rendition: str | None = None, adaptive: bool = True):
        self.program = program
        self.pc = pc
        self.label = label
        self.site_id = site_id
        self.adaptive = adaptive and rendition is None
        self.video = PacketTrack("video")
        self.audio = PacketTrack("audio")
        self.video.on_need_keyframe = self._need_keyframe
        self.rendition: Rendition = program.rendition(rendition or "") or program.top
        self.created = time.monotonic()
        self.switched_at = self.created
        self.switches: list[tuple[float, str, str]] = []
        self.loss = 0.0
        self.rtt_ms: float | None = None
        self.remb_bps: int | None = None
        self.pli_count = 0
        self.last_rtcp = self.created
        self._bad_reports = 0
        self._congested = 0
        self._eval_prev = (self.created, 0)
        self._bytes_prev = (self.created, 0)
        self._video_sender = None

    # --- wiring ---------------------------------------------------------------------------------

    def attach(self) -> None:
        self.rendition.sinks.append(self.video.push)
        self.program.audio.sinks.append(self.audio.push)
        self.rendition.request_keyframe()

    def detach(self) -> None:
        for rendition in self.program.renditions:
            if self.video.push in rendition.sinks:
                rendition.sinks.remove(self.video.push)
        if self.audio.push in self.program.audio.sinks:
            self.program.audio.sinks.remove(self.audio.push)
        self.video.stop()
        self.audio.stop()

    def hook_sender(self, sender, codec=None) -> None:
        """Route the sender's keyframe requests and RTCP to us (see the module docstring), and give
        it the program's shared packetiser for `codec` (the negotiated one)."""
        if codec is not None:
            sender._RTCRtpSender__encoder = shared_packer(self.program, codec)
        original = sender._handle_rtcp_packet

        def on_pli() -> None:
            self.pli_count += 1
            self.rendition.request_keyframe()

        async def on_rtcp(packet) -> None:
            self.last_rtcp = time.monotonic()
            if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
                for report in packet.reports:
                    if report.ssrc == sender._ssrc:
                        self._on_report(report.fraction_lost / 256.0)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == 15:
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    bitrate, ssrcs = None, []
                if sender._ssrc in ssrcs:
                    self.remb_bps = bitrate
            await original(packet)

        sender._send_keyframe = on_pli
        sender._handle_rtcp_packet = on_rtcp
        if sender.kind == "video" or getattr(sender.track, "kind", None) == "video":
            self._video_sender = sender

    def _need_keyframe(self) -> None:
        self.rendition.request_keyframe()
        if self.adaptive and self.rendition is not self.program.bottom:
            self.switch(self.program.bottom, "backlog")

    # --- adaptation -----------------------------------------------------------------------------

    def _on_report(self, fraction_lost: float) -> None:
        self.loss = fraction_lost
        self._bad_reports = self._bad_reports + 1 if fraction_lost >= DOWN_LOSS else 0

    def switch(self, rendition: Rendition, reason: str) -> None:
        if rendition is self.rendition:
            return
        old = self.rendition
        if self.video.push in old.sinks:
            old.sinks.remove(self.video.push)
        self.rendition = rendition
        # Resume on the new rendition's next keyframe (requested now): same RTP stream, same SSRC,
        # a new resolution at an IDR, which every decoder accepts without renegotiation.
        self.video.waiting_keyframe = True
        rendition.sinks.append(self.video.push)
        rendition.request_keyframe()
        self.switched_at = time.monotonic()
        self.switches.append((self.switched_at, rendition.spec.name, reason))
        log.info("subscriber %s: %s → %s (%s)", self.label, old.spec.name, rendition.spec.name, reason)

    def evaluate(self, now: float) -> None:
        """Called every second by the room: move down when this viewer cannot keep up, up when calm."""
        if not self.adaptive or len(self.program.renditions) < 2:
            return
        top, bottom = self.program.top, self.program.bottom
        sent = getattr(self._video_sender, "_RTCRtpSender__octet_count", 0) if self._video_sender else 0
        t_prev, s_prev = self._eval_prev
        rate = (sent - s_prev) * 8 / max(0.001, now - t_prev)
        self._eval_prev = (now, sent)
        # The receiver's estimate (REMB) says the link carries much less than we send: congestion.
        # Compared with what this viewer is actually sent, not the nominal bitrate, which a calm
        # picture never reaches.
        congested = self.remb_bps is not None and rate > 0 and self.remb_bps < DOWN_REMB_RATIO * rate
        self._congested = self._congested + 1 if congested else 0
        if self.rendition is top:
            if self._bad_reports >= 2:
                self.switch(bottom, f"loss {self.loss:.0%}")
            elif self._congested >= 3:
                self.switch(bottom, f"estimate {self.remb_bps // 1000} kbit/s < sent {rate / 1000:.0f} kbit/s")
        elif (now - self.switched_at > UP_AFTER_S and self._bad_reports == 0 and self.loss < 0.01
              and self._congested == 0):
            self.switch(top, "recovered")

    def stats(self, now: float) -> dict:
        sent = 0
        rtt = None
        if self._video_sender is not None:
            sent = getattr(self._video_sender, "_RTCRtpSender__octet_count", 0)
            rtt = getattr(self._video_sender, "_RTCRtpSender__rtt", None)
        t_prev, b_prev = self._bytes_prev
        bitrate = (sent - b_prev) * 8 / max(0.001, now - t_prev) / 1000 if sent >= b_prev else 0.0
        self._bytes_prev = (now, sent)
        self.rtt_ms = rtt * 1000 if rtt is not None else None
        return {"rendition": self.rendition.spec.name, "loss_pct": round(self.loss * 100, 1),
                "rtt_ms": round(self.rtt_ms, 1) if self.rtt_ms is not None else None,
                "bitrate_kbps": round(bitrate, 1), "backlog": self.video.backlog(),
                "delivered": self.video.delivered, "pli": self.pli_count}


class FrameTrack(_QueuedTrack):
    """Naive design, for comparison only (bench/fanout.py): hands decoded frames to the sender,
    which then encodes them itself, once per subscriber, as aiortc's examples do."""

    def __init__(self, kind: str):
        super().__init__(kind, maxlen=5 if kind == "video" else 25)

    def push(self, frame) -> None:
        self._queue.append(frame)
        self._ready.set()


class NaiveSubscriber(Subscriber):
    """Per-subscriber encoding (DIEMCAU_LIVE_NAIVE=1): the design encode-once replaces."""

    def __init__(self, program: Program, **kwargs):
        super().__init__(program, **kwargs)
        self.adaptive = False
        self.video = FrameTrack("video")
        self.audio = FrameTrack("audio")

    def attach(self) -> None:
        self.program.frame_sinks.append(self.video.push)
        self.program.audio_frame_sinks.append(self.audio.push)

    def detach(self) -> None:
        for sinks, fn in ((self.program.frame_sinks, self.video.push),
                          (self.program.audio_frame_sinks, self.audio.push)):
            if fn in sinks:
                sinks.remove(fn)
        self.video.stop()
        self.audio.stop()

    def hook_sender(self, sender, codec=None) -> None:
        if getattr(sender.track, "kind", None) == "video":
            self._video_sender = sender
