"""Every touch of aiortc's (and aioice's) private internals, one small function each.

Written against aiortc 1.16.0 and aioice 0.13.0; pyproject.toml pins aiortc to 1.16.*. aiortc has no
public API for what the live plane needs: taking over a sender's media loop to write the shared,
already packetised program to each viewer (media/live/fanout.py), tapping a receiver's encoded frames
(media/live/passthrough.py), a jitter buffer that releases a frame at its marker (media/live/rtc.py),
and a few counters. Every private name the project reads or writes is in this module and nowhere else;
tests/media_server/test_aiortc_internals.py exercises each function on a real loopback connection, so
an upgrade that renames one fails the test named after it. Before raising the pin, run that file.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aioice.ice
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpsender import RTP_HISTORY_SIZE
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

WRITTEN_AGAINST = {"aiortc": "1.16.0", "aioice": "0.13.0"}


# --- RTCRtpSender ---------------------------------------------------------------------------------

def take_over_media_loop(sender, run: Callable[[Any], Awaitable[None]]) -> None:
    """`sender.send()` runs `run(codec)` instead of aiortc's media loop (`_run_rtp`)."""
    sender._run_rtp = run


def wrap_retransmit(sender, replacement: Callable[[int], Awaitable[None]]) -> Callable[[int], Awaitable[None]]:
    """Route the sender's NACK handling (`_retransmit`) to `replacement`; returns aiortc's own."""
    original = sender._retransmit
    sender._retransmit = replacement
    return original


def wrap_rtcp_handler(sender, replacement: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    """Route every RTCP packet the sender receives (`_handle_rtcp_packet`) to `replacement`; returns
    aiortc's own, which `replacement` should call."""
    original = sender._handle_rtcp_packet
    sender._handle_rtcp_packet = replacement
    return original


def on_keyframe_request(sender, callback: Callable[[], None]) -> None:
    """Call `callback` on the viewer's PLI/FIR (`_send_keyframe`; aiortc forwards it to its encoder)."""
    sender._send_keyframe = callback


def mark_media_loop_started(sender) -> None:
    """What aiortc's media loop does first (`__rtp_started`): the RTCP loop waits for it."""
    sender._RTCRtpSender__rtp_started.set()


def mark_media_loop_exited(sender) -> None:
    """What aiortc's media loop does last (`__rtp_exited`): `stop()` waits for it."""
    sender._RTCRtpSender__rtp_exited.set()


def sender_ssrc(sender) -> int:
    return sender._ssrc


def sender_mid(sender) -> str | None:
    return sender._RTCRtpSender__mid


def sender_extensions_map(sender) -> HeaderExtensionsMap:
    """The negotiated RTP header-extension map the sender writes its packets with."""
    return sender._RTCRtpSender__rtp_header_extensions_map


def extension_ids(extensions: HeaderExtensionsMap) -> tuple[int | None, int | None]:
    """(mid, abs-send-time) extension ids negotiated in `extensions` (None: not negotiated)."""
    ids = extensions._HeaderExtensionsMap__ids
    return ids.mid, ids.abs_send_time


def record_sent(sender, dtls, ntp: int, rtp_timestamp: int, packets: int, octets: int,
                new_packets: int, new_bytes: int) -> None:
    """After `new_packets` packets (`new_bytes` on the wire) went out: the counters aiortc's RTCP loop
    writes its sender reports from (lip sync, receiver statistics: totals of `packets` and payload
    `octets`), and the transport's sent counters (`getStats()`). Positional: it runs per packet sent."""
    sender._RTCRtpSender__ntp_timestamp = ntp
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp
    sender._RTCRtpSender__packet_count = packets
    sender._RTCRtpSender__octet_count = octets
    dtls._RTCDtlsTransport__tx_packets += new_packets
    dtls._RTCDtlsTransport__tx_bytes += new_bytes


def remember_for_retransmit(sender, packet: RtpPacket) -> None:
    """Put `packet` where aiortc's `_retransmit` looks for it (and wraps it in RTX when negotiated)."""
    sender._RTCRtpSender__rtp_history[packet.sequence_number % RTP_HISTORY_SIZE] = packet


def sender_octets(sender) -> int:
    """Payload bytes the sender has reported sending."""
    return sender._RTCRtpSender__octet_count


def sender_rtt(sender) -> float | None:
    """Round-trip time from the receiver's reports, in seconds; None until the first report
    (aiortc creates the attribute then)."""
    return getattr(sender, "_RTCRtpSender__rtt", None)


# --- RTCDtlsTransport and the ICE pair under it ---------------------------------------------------

def srtp_protect(dtls) -> Callable[[bytes], bytes] | None:
    """The function that encrypts one RTP packet with the transport's outbound SRTP session, or None
    while the transport is not connected (the session exists from the DTLS handshake on)."""
    return dtls._tx_srtp.protect if dtls._state is DtlsState.CONNECTED else None


def transport_packets_received(dtls) -> int:
    return dtls._RTCDtlsTransport__rx_packets


def selected_udp_path(dtls):
    """(asyncio UDP transport, remote address) of the ICE pair in use for component 1, or (None, None)
    before ICE has chosen a pair or after it closed (aioice's `Connection._nominated`)."""
    pair = dtls.transport._connection._nominated.get(1)
    udp = pair.protocol.transport if pair is not None else None
    return (udp, pair.remote_addr) if udp is not None else (None, None)


def pin_host_addresses(hosts: list[str]) -> None:
    """Gather host candidates on `hosts` only (aioice offers every interface's address otherwise)."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(hosts)


# --- RTCRtpReceiver, RTCRtpTransceiver ------------------------------------------------------------

def receiver_kind(receiver) -> str:
    return receiver._RTCRtpReceiver__kind


def replace_jitter_buffer(receiver, buffer: JitterBuffer) -> None:
    receiver._RTCRtpReceiver__jitter_buffer = buffer


def wrap_decoder_queue(receiver, wrap: Callable[[Any], Any]):
    """Put `wrap(queue)` where the receiver hands its complete encoded frames to its decoder thread
    (`__decoder_queue`, items `(codec, JitterFrame)`, None to stop); returns the wrapper."""
    shim = wrap(receiver._RTCRtpReceiver__decoder_queue)
    receiver._RTCRtpReceiver__decoder_queue = shim
    return shim


def remote_ssrcs(receiver) -> list[int]:
    """The SSRCs of the streams the receiver has received."""
    return list(receiver._RTCRtpReceiver__remote_streams)


def send_pli(receiver, ssrc: int) -> Awaitable[None]:
    """Ask the sender of stream `ssrc` for a keyframe (RTCP PLI)."""
    return receiver._send_rtcp_pli(ssrc)


def negotiated_codecs(transceiver) -> list:
    """The codecs negotiated for the transceiver (empty when the offer had none we support)."""
    return transceiver._codecs


# --- the jitter buffer ----------------------------------------------------------------------------

class MarkerJitterBuffer(JitterBuffer):
    """aiortc's jitter buffer, but a frame is released as soon as its last packet (RTP marker) is in,
    not when a packet of the next frame arrives. Reads the buffer's ring (`_packets`, `_origin`,
    `_capacity`) and the depayloaded data aiortc puts on each packet (`_data`)."""

    def _remove_frame(self, sequence_number: int):
        packets = []
        timestamp = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:   # a frame without a marker: the next one closed it
                self.remove(count)
                return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
        return None
