"""Each function of media/live/aiortc_internals.py on a real aiortc connection over loopback.

One scenario plays a media server and a viewer: the server's sender is taken over the way DirectRtp
takes it over, sends a real H.264 frame through the viewer's SRTP session and UDP path, fills the
counters of its sender reports, answers a NACK through aiortc's own retransmission; the viewer taps
its receiver, releases the frame at its marker and sends a PLI. What each function did is recorded
under its name, so an aiortc upgrade that renames one private attribute fails the test named after
the function, not only the end-to-end tests.
"""
from __future__ import annotations

import asyncio
import queue
import re

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import depayload
from aiortc.rtp import RtcpPsfbPacket, RtcpRtpfbPacket, RtpPacket

from media.live import aiortc_internals as internals
from media.live.rtc import h264_preferences

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
NALS = [bytes([0x65]) + bytes(range(1, 200)), bytes([0x65]) + bytes(range(2, 180)), bytes([0x65]) + b"\x07" * 90]


async def _until(condition, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


class _Capture:
    """Stands in for the receiver's decoder queue: keeps the complete frames aiortc hands over."""

    def __init__(self, original):
        self.original = original
        self.frames: list = []

    def put(self, item) -> None:
        if item is None:
            self.original.put(None)   # let the decoder thread end
        else:
            self.frames.append(item)


async def _scenario() -> dict[str, object]:
    seen: dict[str, object] = {}

    def record(name: str, probe) -> None:
        try:
            seen[name] = probe()
        except Exception as exc:  # noqa: BLE001 - the named test reports it
            seen[name] = exc

    internals.pin_host_addresses(["127.0.0.1"])
    viewer, server = RTCPeerConnection(), RTCPeerConnection()
    viewer.addTransceiver("video", direction="recvonly")
    await viewer.setLocalDescription(await viewer.createOffer())

    transceiver = server.addTransceiver("video", direction="sendonly")
    transceiver.setCodecPreferences(h264_preferences())
    sender = transceiver.sender
    loop_codecs: list = []
    stop_loop = asyncio.Event()

    async def media_loop(codec) -> None:
        internals.mark_media_loop_started(sender)
        loop_codecs.append(codec)
        try:
            await stop_loop.wait()
        except asyncio.CancelledError:
            pass
        finally:
            internals.mark_media_loop_exited(sender)

    retransmit_asked: list[int] = []

    async def retransmit(sequence_number: int) -> None:
        retransmit_asked.append(sequence_number)

    rtcp_seen: list = []

    async def on_rtcp(packet) -> None:
        rtcp_seen.append(packet)
        await aiortc_rtcp(packet)

    keyframes: list[float] = []
    record("take_over_media_loop", lambda: internals.take_over_media_loop(sender, media_loop))
    aiortc_retransmit = internals.wrap_retransmit(sender, retransmit)
    seen["wrap_retransmit.original"] = aiortc_retransmit
    aiortc_rtcp = internals.wrap_rtcp_handler(sender, on_rtcp)
    seen["wrap_rtcp_handler.original"] = aiortc_rtcp
    record("on_keyframe_request", lambda: internals.on_keyframe_request(
        sender, lambda: keyframes.append(asyncio.get_running_loop().time())))

    await server.setRemoteDescription(viewer.localDescription)
    await server.setLocalDescription(await server.createAnswer())
    seen["answer"] = server.localDescription.sdp
    record("negotiated_codecs", lambda: list(internals.negotiated_codecs(transceiver)))
    await viewer.setRemoteDescription(RTCSessionDescription(sdp=server.localDescription.sdp, type="answer"))
    receiver = viewer.getTransceivers()[0].receiver
    record("receiver_kind", lambda: internals.receiver_kind(receiver))
    record("replace_jitter_buffer", lambda: internals.replace_jitter_buffer(
        receiver, internals.MarkerJitterBuffer(capacity=128, is_video=True)))

    connected = await _until(lambda: viewer.connectionState == "connected" == server.connectionState
                             and bool(loop_codecs))
    assert connected, (viewer.connectionState, server.connectionState, loop_codecs)
    seen["loop_codecs"] = loop_codecs
    seen["mid"] = transceiver.mid
    dtls = sender.transport
    seen["local_candidates"] = dtls.transport.iceGatherer.getLocalCandidates()
    capture = None

    def tap():
        nonlocal capture
        capture = internals.wrap_decoder_queue(receiver, _Capture)
        return capture
    record("wrap_decoder_queue", tap)
    for name, probe in {
        "sender_ssrc": lambda: internals.sender_ssrc(sender),
        "sender_mid": lambda: internals.sender_mid(sender),
        "sender_extensions_map": lambda: internals.sender_extensions_map(sender),
        "selected_udp_path": lambda: internals.selected_udp_path(dtls),
        "srtp_protect": lambda: internals.srtp_protect(dtls),
        "transport_packets_received.before": lambda: internals.transport_packets_received(receiver.transport),
        "sender_rtt.before": lambda: internals.sender_rtt(sender),
    }.items():
        record(name, probe)
    record("extension_ids", lambda: internals.extension_ids(seen["sender_extensions_map"]))

    # One frame of three packets, sent as DirectRtp sends: serialised, protected, written to the UDP path.
    codec = loop_codecs[0]
    ssrc, ext_map = seen["sender_ssrc"], seen["sender_extensions_map"]
    udp, addr = seen["selected_udp_path"]
    protect = seen["srtp_protect"]
    first_seq, timestamp, octets = 1000, 90_000, 0
    for i, nal in enumerate(NALS):
        packet = RtpPacket(payload_type=codec.payloadType, marker=int(i == len(NALS) - 1),
                           sequence_number=first_seq + i, timestamp=timestamp, ssrc=ssrc, payload=nal)
        packet.extensions.mid = seen["sender_mid"]
        data = protect(packet.serialize(ext_map))
        udp.sendto(data, addr)
        octets += len(nal)
    seen["expected_frame"] = b"".join(depayload(codec, nal) for nal in NALS)
    await _until(lambda: capture is not None and capture.frames, 5)
    seen["frames"] = list(capture.frames) if capture is not None else []
    record("remote_ssrcs", lambda: internals.remote_ssrcs(receiver))
    record("transport_packets_received", lambda: internals.transport_packets_received(receiver.transport))

    def sent_counts(report) -> dict[str, tuple[int, int]]:   # getStats() refills one report object
        return {s.type: (s.packetsSent, s.bytesSent) for s in report.values()
                if s.type in ("outbound-rtp", "transport")}

    before = sent_counts(await sender.getStats())
    ntp = 0xE000_0000_0000_0000
    record("record_sent", lambda: internals.record_sent(sender, dtls, ntp, timestamp, len(NALS), octets,
                                                          len(NALS), 4321))
    seen["stats_before"], seen["stats"] = before, sent_counts(await sender.getStats())
    seen["octets_sent"] = octets
    record("sender_octets", lambda: internals.sender_octets(sender))

    # The viewer asks for a keyframe and for a lost packet, over the real RTCP path.
    try:
        await internals.send_pli(receiver, ssrc)
        seen["send_pli"] = None
    except Exception as exc:  # noqa: BLE001
        seen["send_pli"] = exc
    await receiver._send_rtcp_nack(ssrc, [first_seq + 1])   # aiortc's receiver sends NACKs on gaps
    await _until(lambda: keyframes and retransmit_asked, 5)
    seen["keyframes"], seen["retransmit_asked"], seen["rtcp_seen"] = list(keyframes), list(retransmit_asked), rtcp_seen

    # aiortc's own retransmission finds a packet put in its history, and sends it to the viewer again.
    rx_before = internals.transport_packets_received(receiver.transport)
    again = RtpPacket(payload_type=codec.payloadType, marker=1, sequence_number=first_seq + 2, timestamp=timestamp,
                      ssrc=ssrc, payload=NALS[2])
    again.extensions.mid = seen["sender_mid"]
    record("remember_for_retransmit", lambda: internals.remember_for_retransmit(sender, again))
    await aiortc_retransmit(first_seq + 2)
    await _until(lambda: internals.transport_packets_received(receiver.transport) > rx_before, 5)
    seen["retransmitted"] = internals.transport_packets_received(receiver.transport) - rx_before

    # The sender's RTCP loop sends reports from the counters; the viewer's reports give the round trip.
    await _until(lambda: internals.sender_rtt(sender) is not None, 8)
    record("sender_rtt", lambda: internals.sender_rtt(sender))

    try:
        await asyncio.wait_for(sender.stop(), 5)   # waits for the loop's start and exit marks
        seen["stopped"] = True
    except TimeoutError:
        seen["stopped"] = False
    await viewer.close()
    await server.close()
    record("srtp_protect.after", lambda: internals.srtp_protect(dtls))
    record("selected_udp_path.after", lambda: internals.selected_udp_path(dtls))
    return seen


@pytest.fixture(scope="module")
def seen(request):
    import aioice.ice

    original = aioice.ice.get_host_addresses
    request.addfinalizer(lambda: setattr(aioice.ice, "get_host_addresses", original))
    return asyncio.run(_scenario())


def _ok(seen, name):
    value = seen[name]
    assert not isinstance(value, Exception), f"{name}: {value!r}"
    return value


def test_written_against_the_pinned_versions():
    import importlib.metadata as md

    for package, version in internals.WRITTEN_AGAINST.items():
        assert md.version(package).split(".")[:2] == version.split(".")[:2], (package, md.version(package))


def test_pin_host_addresses(seen):
    candidates = seen["local_candidates"]
    assert candidates and {c.ip for c in candidates if c.type == "host"} == {"127.0.0.1"}


def test_take_over_media_loop(seen):
    _ok(seen, "take_over_media_loop")
    assert len(seen["loop_codecs"]) == 1 and seen["loop_codecs"][0].mimeType.lower() == "video/h264"


def test_mark_media_loop_started_and_exited(seen):
    assert seen["stopped"], "sender.stop() waits for both marks; it hung"


def test_negotiated_codecs(seen):
    codecs = _ok(seen, "negotiated_codecs")
    assert codecs and codecs[0].mimeType.lower() == "video/h264"
    assert seen["loop_codecs"][0].payloadType == codecs[0].payloadType


def test_sender_ssrc(seen):
    ssrc = _ok(seen, "sender_ssrc")
    assert isinstance(ssrc, int) and 0 < ssrc < 2**32
    assert re.search(rf"^a=ssrc:{ssrc} ", seen["answer"], re.MULTILINE)


def test_sender_mid(seen):
    assert _ok(seen, "sender_mid") == seen["mid"] is not None


def test_sender_extensions_map_and_extension_ids(seen):
    _ok(seen, "sender_extensions_map")
    ids = dict((uri, int(i)) for i, uri in re.findall(r"^a=extmap:(\d+) (\S+)", seen["answer"], re.MULTILINE))
    assert _ok(seen, "extension_ids") == (ids[MID_URI], ids[ABS_SEND_TIME_URI])


def test_selected_udp_path(seen):
    udp, addr = _ok(seen, "selected_udp_path")
    assert hasattr(udp, "sendto") and addr[0] == "127.0.0.1" and isinstance(addr[1], int)
    assert _ok(seen, "selected_udp_path.after") == (None, None)


def test_srtp_protect(seen):
    assert callable(_ok(seen, "srtp_protect"))
    assert seen["frames"], "the viewer decrypted nothing the sender protected"
    assert _ok(seen, "srtp_protect.after") is None      # closed: nothing to send with


def test_receiver_kind(seen):
    assert _ok(seen, "receiver_kind") == "video"


def test_replace_jitter_buffer_and_the_marker_jitter_buffer(seen):
    _ok(seen, "replace_jitter_buffer")
    # aiortc's own buffer would hold the frame until a packet of the next one; none was sent.
    assert len(seen["frames"]) == 1
    codec, frame = seen["frames"][0]
    assert frame.data == seen["expected_frame"]


def test_wrap_decoder_queue(seen):
    capture = _ok(seen, "wrap_decoder_queue")
    assert isinstance(capture.original, queue.Queue)
    assert capture.frames and capture.frames[0][0].mimeType.lower() == "video/h264"


def test_remote_ssrcs(seen):
    assert _ok(seen, "remote_ssrcs") == [seen["sender_ssrc"]]


def test_transport_packets_received(seen):
    before = _ok(seen, "transport_packets_received.before")
    assert isinstance(before, int)
    assert _ok(seen, "transport_packets_received") >= before + len(NALS)


def test_record_sent_fills_the_sender_report_counters(seen):
    _ok(seen, "record_sent")
    assert seen["stats"]["outbound-rtp"] == (len(NALS), seen["octets_sent"])


def test_record_sent_adds_to_the_transport_counters(seen):
    _ok(seen, "record_sent")
    (packets_before, bytes_before), (packets, octets) = seen["stats_before"]["transport"], seen["stats"]["transport"]
    assert (packets - packets_before, octets - bytes_before) == (len(NALS), 4321)


def test_sender_octets(seen):
    assert _ok(seen, "sender_octets") == seen["octets_sent"]


def test_wrap_rtcp_handler(seen):
    original = seen["wrap_rtcp_handler.original"]
    assert original.__name__ == "_handle_rtcp_packet"
    assert any(isinstance(p, RtcpPsfbPacket) for p in seen["rtcp_seen"])
    assert any(isinstance(p, RtcpRtpfbPacket) for p in seen["rtcp_seen"])


def test_send_pli_and_on_keyframe_request(seen):
    assert seen["send_pli"] is None
    _ok(seen, "on_keyframe_request")
    assert seen["keyframes"], "the viewer's PLI did not reach the callback"


def test_wrap_retransmit(seen):
    assert seen["wrap_retransmit.original"].__name__ == "_retransmit"
    assert 1001 in seen["retransmit_asked"]


def test_remember_for_retransmit(seen):
    _ok(seen, "remember_for_retransmit")
    assert seen["retransmitted"] >= 1, "aiortc's retransmission did not find the packet in its history"


def test_sender_rtt(seen):
    assert _ok(seen, "sender_rtt.before") is None
    rtt = _ok(seen, "sender_rtt")
    assert isinstance(rtt, float) and 0 <= rtt < 1
