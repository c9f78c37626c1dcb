"""Subscribers: the program's encoded packets written straight to each viewer's transport.

Every viewer of a rendition gets the same encoded packets, packetised once (`SharedPacker`). aiortc's
RTCRtpSender would then spend one task wake-up, one RtpPacket object, one serialisation and a chain
of coroutines per packet per viewer (37 µs of Python each, docs/live.md); `DirectRtp` takes over the
sender's media loop instead and, in the encoder's own callback, writes each packet's 12-byte header
in front of the shared payload, protects it with the viewer's SRTP session and hands it to the
viewer's UDP socket. The sender object stays for everything else: negotiation, its RTCP loop (sender
reports fed from the counters kept here), NACK (retransmitted from a history kept here), and
keyframe requests, which aiortc ignores on a packet path: the sender's keyframe requests are pointed
at the shared rendition's rate-limited request, and its RTCP handler is wrapped to read the
receiver reports and REMB that drive rendition switching. Every touch of aiortc's private attributes
is a function of `aiortc_internals`.
"""
from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque

import av
from aiortc import clock
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import HeaderExtensions, RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket, RtpPacket, unpack_remb_fci

from .aiortc_internals import (
    extension_ids,
    mark_media_loop_exited,
    mark_media_loop_started,
    on_keyframe_request,
    record_sent,
    remember_for_retransmit,
    selected_udp_path,
    sender_extensions_map,
    sender_mid,
    sender_octets,
    sender_rtt,
    sender_ssrc,
    srtp_protect,
    take_over_media_loop,
    wrap_retransmit,
    wrap_rtcp_handler,
)
from .program import Program, Rendition

log = logging.getLogger(__name__)

# Bytes a viewer's UDP socket may hold unsent (the kernel's buffer full) before it counts as not
# keeping up: ~1.5 s of the top rendition.
SEND_BACKLOG_LIMIT = 256 * 1024
RTP_HISTORY = 128         # packets kept per viewer for NACK retransmission (~0.8 s of a 1.5 Mbit/s rendition)
_RTP_HEADER = struct.Struct("!BBHLL")
DOWN_LOSS = 0.05          # fraction lost in a receiver report that counts as "cannot keep up"
DOWN_REMB_RATIO = 0.5     # an estimate below half of what is sent, three times running: congestion
UP_AFTER_S = 20.0         # stable time on the lower rendition before trying the top one again


class SharedPacker:
    """Packetises each encoded packet once for every viewer of a rendition.

    aiortc's codec `pack()` splits a packet into RTP payloads; for H.264 and Opus that split has no
    per-sender state, so its result is shared: with N viewers the split runs once instead of N
    times. The send time (NTP) is taken once per packet too, for the abs-send-time extension and
    the sender reports.
    """

    def __init__(self, codec):
        from aiortc.codecs import get_encoder

        self._inner = get_encoder(codec)
        self._recent: dict[int, tuple[av.Packet, tuple[list[bytes], int, int]]] = {}

    def pack(self, packet: av.Packet) -> tuple[list[bytes], int, int]:
        """(payloads, RTP timestamp from 0, NTP send time) of ``packet``."""
        hit = self._recent.get(id(packet))
        if hit is not None and hit[0] is packet:
            return hit[1]
        payloads, timestamp = self._inner.pack(packet)
        result = (payloads, timestamp, clock.current_ntp_time())
        if len(self._recent) >= 64:
            self._recent.pop(next(iter(self._recent)))
        self._recent[id(packet)] = (packet, result)     # holds the packet: its id cannot be reused meanwhile
        return result


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
    """A track whose recv() hands out what push() queued (decoded frames, for the naive design)."""

    def __init__(self, kind: str, maxlen: int | None = None):
        super().__init__()
        self.kind = kind
        self._queue: deque = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.delivered = 0

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


_EXTENSIONS: dict[tuple, bytes] = {}


def _extension_block(ext_map, ids: tuple, mid: str | None, abs_send_time: int) -> bytes:
    """The header-extension block (mid, abs-send-time) in aiortc's own encoding, shared by every
    viewer whose extension ids match, built once per packet time."""
    key = (ids, mid, abs_send_time)
    block = _EXTENSIONS.get(key)
    if block is None:
        profile, value = ext_map.set(HeaderExtensions(mid=mid, abs_send_time=abs_send_time))
        block = struct.pack("!HH", profile, len(value) >> 2) + value if value else b""
        if len(_EXTENSIONS) >= 256:
            _EXTENSIONS.clear()
        _EXTENSIONS[key] = block
    return block


class DirectRtp:
    """One viewer's RTP stream of one kind, written to its transport from the encoder's callback.

    Installed on an aiortc sender before it starts: `send()` then runs `_run` instead of aiortc's
    media loop, which picks up the negotiated payload type, SSRC, mid and extension ids and waits
    until the sender stops. Counters the sender's RTCP loop reads (sender reports) are kept up to date,
    and NACKed packets are rebuilt from `history` for aiortc's own retransmission (RTX included).
    """

    def __init__(self, sender, packer_for, on_ready=None):
        self.sender = sender
        self.packer_for = packer_for        # codec -> SharedPacker
        self.on_ready = on_ready
        self.ready = False
        self.packets = 0
        self.octets = 0
        self.history: list[tuple | None] = [None] * RTP_HISTORY
        self._seq = random.randint(0, 0xFFFF)
        self._ts_origin = random.getrandbits(32)
        take_over_media_loop(sender, self._run)
        self._aiortc_retransmit = wrap_retransmit(sender, self._retransmit)

    async def _run(self, codec) -> None:
        sender = self.sender
        mark_media_loop_started(sender)
        self.packer = self.packer_for(codec)
        self.pt = codec.payloadType
        self.ssrc = sender_ssrc(sender)
        self.mid = sender_mid(sender)
        self.ext_map = sender_extensions_map(sender)
        self.ext_ids = extension_ids(self.ext_map)
        self.dtls = sender.transport
        self.ready = True
        if self.on_ready:
            self.on_ready()
        try:
            await asyncio.Event().wait()     # until the sender stops (it cancels this task)
        except asyncio.CancelledError:
            pass
        finally:
            self.ready = False
            if sender.track is not None:
                sender.track.stop()
            mark_media_loop_exited(sender)

    def send(self, packet: av.Packet) -> int:
        """Send ``packet``: 1 when sent, 0 when the connection is not up yet (or any more), -1 when
        this viewer's socket has a backlog (it cannot keep up)."""
        protect = srtp_protect(self.dtls) if self.ready else None
        if protect is None:
            return 0
        udp, addr = selected_udp_path(self.dtls)
        if udp is None:
            return 0
        if udp.get_write_buffer_size() > SEND_BACKLOG_LIMIT:
            return -1
        payloads, timestamp, ntp = self.packer.pack(packet)
        timestamp = (self._ts_origin + timestamp) & 0xFFFFFFFF
        extensions = _extension_block(self.ext_map, self.ext_ids, self.mid, (ntp >> 14) & 0x00FFFFFF)
        first_byte = 0x90 if extensions else 0x80
        sendto = udp.sendto
        history, seq, ssrc, last = self.history, self._seq, self.ssrc, len(payloads) - 1
        sent = 0
        for i, payload in enumerate(payloads):
            marker = i == last
            header = _RTP_HEADER.pack(first_byte, (0x80 if marker else 0) | self.pt, seq, timestamp, ssrc)
            history[seq % RTP_HISTORY] = (seq, timestamp, marker, payload)
            data = protect(header + extensions + payload)
            sendto(data, addr)
            sent += len(data)
            self.octets += len(payload)
            seq = (seq + 1) & 0xFFFF
        self.packets += len(payloads)
        self._seq = seq
        # What the sender's RTCP loop puts in its sender reports (lip sync, receiver statistics).
        record_sent(self.sender, self.dtls, ntp, timestamp, self.packets, self.octets, len(payloads), sent)
        return 1

    def _socket(self):
        """The asyncio UDP transport of the ICE pair in use, and the viewer's address (None, None
        before ICE has chosen a pair or after it closed)."""
        return selected_udp_path(self.dtls)

    def backlog(self) -> int:
        """Bytes waiting in this viewer's socket buffer (0 while not connected)."""
        udp = self._socket()[0] if self.ready else None
        return udp.get_write_buffer_size() if udp is not None else 0

    async def _retransmit(self, sequence_number: int) -> None:
        entry = self.history[sequence_number % RTP_HISTORY]
        if entry is None or entry[0] != sequence_number:
            return
        seq, timestamp, marker, payload = entry
        packet = RtpPacket(payload_type=self.pt, marker=int(marker), sequence_number=seq, timestamp=timestamp,
                           ssrc=self.ssrc, payload=payload)
        packet.extensions.mid = self.mid
        packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        # aiortc's retransmission reads its own history and wraps the packet in RTX when negotiated.
        remember_for_retransmit(self.sender, packet)
        await self._aiortc_retransmit(sequence_number)


class PacketTrack(MediaStreamTrack):
    """A viewer's track of one kind: push() hands each shared packet to its `DirectRtp`."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.direct: DirectRtp | None = None
        self.waiting_keyframe = kind == "video"
        self.delivered = 0
        self.dropped = 0            # packets not sent because this viewer's socket had a backlog
        self.on_need_keyframe = None

    async def recv(self):
        raise MediaStreamError   # never read: DirectRtp replaces the sender's loop that would

    def push(self, packet: av.Packet) -> None:
        if self.readyState != "live" or self.direct is None:
            return
        if self.waiting_keyframe and not packet.is_keyframe:
            return
        try:
            result = self.direct.send(packet)
        except Exception:
            # This viewer's transport broke under us (closed socket, SRTP error): stop sending to it
            # (the room's watchdog closes the peer) rather than let it break the loop over the others.
            log.warning("viewer transport failed; no more packets to it", exc_info=True)
            self.direct.ready = False
            return
        if result > 0:
            self.waiting_keyframe = False
            self.delivered += 1
        elif result < 0:
            # This viewer's socket is not draining: skip to a keyframe once it has, and let the
            # subscriber move it to the lower rendition, instead of piling more on.
            self.dropped += 1
            if self.kind == "video" and not self.waiting_keyframe:
                self.waiting_keyframe = True
                if self.on_need_keyframe:
                    self.on_need_keyframe()


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

    def hook_sender(self, sender) -> None:
        """Send this viewer's media through `DirectRtp` with the program's shared packetiser, and
        route the sender's keyframe requests and RTCP to us (see the module docstring). Called after
        the answer is made, before the connection is up (aiortc starts the sender only then)."""
        track = self.video if sender.kind == "video" else self.audio

        def on_ready() -> None:
            if track.kind == "video":   # what was requested at attach() went out before DTLS was up
                self.rendition.request_keyframe()
        track.direct = DirectRtp(sender, lambda negotiated: shared_packer(self.program, negotiated), on_ready)

        def on_pli() -> None:
            self.pli_count += 1
            self.rendition.request_keyframe()

        async def on_rtcp(packet) -> None:
            self.last_rtcp = time.monotonic()
            if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
                for report in packet.reports:
                    if report.ssrc == sender_ssrc(sender):
                        self._on_report(report.fraction_lost / 256.0)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == 15:
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    bitrate, ssrcs = None, []
                if sender_ssrc(sender) in ssrcs:
                    self.remb_bps = bitrate
            await original(packet)

        on_keyframe_request(sender, on_pli)
        original = wrap_rtcp_handler(sender, on_rtcp)
        if sender.kind == "video":
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
        sent = sender_octets(self._video_sender) if self._video_sender else 0
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
            sent = sender_octets(self._video_sender)
            rtt = sender_rtt(self._video_sender)
        t_prev, b_prev = self._bytes_prev
        bitrate = (sent - b_prev) * 8 / max(0.001, now - t_prev) / 1000 if sent >= b_prev else 0.0
        self._bytes_prev = (now, sent)
        self.rtt_ms = rtt * 1000 if rtt is not None else None
        direct = getattr(self.video, "direct", None)
        return {"rendition": self.rendition.spec.name, "loss_pct": round(self.loss * 100, 1),
                "rtt_ms": round(self.rtt_ms, 1) if self.rtt_ms is not None else None,
                "bitrate_kbps": round(bitrate, 1), "send_backlog_bytes": direct.backlog() if direct else 0,
                "delivered": self.video.delivered, "dropped": getattr(self.video, "dropped", 0),
                "pli": self.pli_count}


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

    def hook_sender(self, sender) -> None:
        if getattr(sender.track, "kind", None) == "video":
            self._video_sender = sender
