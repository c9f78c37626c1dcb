"""DirectRtp's packets, read back with aiortc's own RTP parser, and a viewer whose transport breaks.

The end-to-end tests (aiortc viewers, Chromium) show the packets decode; these pin down the header
fields a decoder forgives but a receiver's statistics and lip sync do not: sequence numbers without
gaps, one timestamp per frame, the marker on a frame's last packet, the mid and abs-send-time
extensions with the negotiated ids, and the counters the sender reports come from.
"""
from __future__ import annotations

import asyncio
import fractions
from types import SimpleNamespace

import av
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.live.fanout import DirectRtp, PacketTrack, SharedPacker

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


class CapturingSocket:
    def __init__(self):
        self.sent: list[tuple[bytes, tuple]] = []

    def sendto(self, data: bytes, addr) -> None:
        self.sent.append((data, addr))

    def get_write_buffer_size(self) -> int:
        return 0


def make_sender(socket: CapturingSocket, protect=lambda data: data):
    """An aiortc sender's state as DirectRtp reads it (the real extension map, a loopback pair);
    SRTP left out (identity) so the clear packets can be parsed."""
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=4, uri=MID_URI),
        RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI)]))
    pair = SimpleNamespace(protocol=SimpleNamespace(transport=socket), remote_addr=("127.0.0.1", 50000))
    dtls = SimpleNamespace(_state=State.CONNECTED, _tx_srtp=SimpleNamespace(protect=protect),
                           transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
                           _RTCDtlsTransport__tx_packets=0, _RTCDtlsTransport__tx_bytes=0)

    async def aiortc_retransmit(seq: int) -> None:
        raise AssertionError("not used here")
    return SimpleNamespace(
        _ssrc=0x1234ABCD, transport=dtls, track=None, _retransmit=aiortc_retransmit,
        _RTCRtpSender__mid="1", _RTCRtpSender__rtp_header_extensions_map=extensions,
        _RTCRtpSender__rtp_started=asyncio.Event(), _RTCRtpSender__rtp_exited=asyncio.Event()), extensions


def nal_unit(size: int, keyframe: bool) -> bytes:
    return bytes([0x65 if keyframe else 0x41]) + bytes((i * 7) % 251 for i in range(size - 1))


def h264_packet(pts: int, size: int, keyframe: bool) -> av.Packet:
    # One Annex-B NAL unit of `size` bytes: split into FU-A fragments by aiortc's packetiser.
    packet = av.Packet(b"\x00\x00\x00\x01" + nal_unit(size, keyframe))
    packet.pts = packet.dts = pts
    packet.time_base = fractions.Fraction(1, 90000)
    packet.is_keyframe = keyframe
    return packet


def test_direct_rtp_writes_what_aiortc_parses_back():
    async def scenario():
        socket = CapturingSocket()
        sender, extensions = make_sender(socket)
        codec = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102,
                                      parameters={"packetization-mode": "1", "profile-level-id": "42e01f"})
        packer = SharedPacker(codec)
        direct = DirectRtp(sender, lambda negotiated: packer)
        task = asyncio.ensure_future(sender._run_rtp(codec))
        await asyncio.sleep(0)
        results = [direct.send(h264_packet(pts, size, pts == 0)) for pts, size in ((0, 5000), (3000, 900))]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return socket, sender, extensions, direct, results

    socket, sender, extensions, direct, results = asyncio.run(scenario())
    assert results == [1, 1]
    packets = [RtpPacket.parse(data, extensions) for data, _ in socket.sent]
    assert len(packets) >= 5 and {addr for _, addr in socket.sent} == {("127.0.0.1", 50000)}
    first_frame = [p for p in packets if p.timestamp == packets[0].timestamp]
    second_frame = packets[len(first_frame):]
    assert len(first_frame) >= 4 and len(second_frame) == 1
    assert (second_frame[0].timestamp - first_frame[0].timestamp) % 2**32 == 3000
    assert all((b.sequence_number - a.sequence_number) % 2**16 == 1 for a, b in zip(packets, packets[1:], strict=False))
    assert [p.marker for p in first_frame] == [0] * (len(first_frame) - 1) + [1] and second_frame[0].marker == 1
    assert {p.payload_type for p in packets} == {102} and {p.ssrc for p in packets} == {0x1234ABCD}
    assert {p.extensions.mid for p in packets} == {"1"}
    assert all(p.extensions.abs_send_time is not None for p in packets)
    # The payloads are aiortc's FU-A fragments of the NAL unit, whole and in order.
    assert b"".join(p.payload[2:] for p in first_frame) == nal_unit(5000, True)[1:]
    assert second_frame[0].payload == nal_unit(900, False)
    assert sender._RTCRtpSender__packet_count == len(packets)
    assert sender._RTCRtpSender__octet_count == sum(len(p.payload) for p in packets)
    assert sender._RTCRtpSender__rtp_timestamp == second_frame[0].timestamp
    # The history NACKs are answered from holds the last packets by sequence number.
    last = packets[-1]
    assert direct.history[last.sequence_number % len(direct.history)][0] == last.sequence_number
    assert sender._RTCRtpSender__rtp_exited.is_set()    # aiortc's stop() waits for this


def test_a_viewer_whose_transport_breaks_is_skipped_not_the_loop():
    async def scenario():
        def broken(_data):
            raise RuntimeError("srtp_protect failed")
        sender, _ = make_sender(CapturingSocket(), protect=broken)
        codec = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)
        packer = SharedPacker(codec)
        track = PacketTrack("video")
        track.direct = DirectRtp(sender, lambda negotiated: packer)
        task = asyncio.ensure_future(sender._run_rtp(codec))
        await asyncio.sleep(0)
        track.push(h264_packet(0, 800, True))        # must not raise into the encoder's broadcast
        ready_after = track.direct.ready
        track.push(h264_packet(3000, 800, False))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return track, ready_after

    track, ready_after = asyncio.run(scenario())
    assert ready_after is False and track.delivered == 0
