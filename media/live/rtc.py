"""aiortc plumbing shared by the media server, its relay client, the tests and the benchmark.

Three things aiortc does by default that a media server must not: it contacts a public STUN server,
it resolves `.local` (mDNS) candidates with multicast on every interface, and it gathers host
candidates on every interface. Here ICE servers are always explicit (none unless configured), mDNS
candidates are dropped from remote offers (the peer still reaches us: ICE learns its address as a
peer-reflexive candidate from its first check), and `DIEMCAU_ICE_HOSTS` can pin the host candidates
(e.g. 127.0.0.1 for tests and benchmarks on loopback).
"""
from __future__ import annotations

import re

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from groundwork.config import options

from .aiortc_internals import MarkerJitterBuffer, pin_host_addresses, receiver_kind, replace_jitter_buffer

# Constrained baseline, packetization-mode 1: what every browser and OBS decode, and what x264's
# ultrafast/zerolatency baseline output is.
H264_PROFILE = "42e01f"


def ice_servers() -> list[RTCIceServer]:
    """ICE servers from DIEMCAU_ICE_SERVERS ("stun:host:port,turn:user:pass@host:port"), none by default."""
    servers: list[RTCIceServer] = []
    for item in filter(None, (s.strip() for s in options().ice_servers)):
        match = re.match(r"^(turns?):([^:@]+):([^@]+)@(.+)$", item)
        if match:
            scheme, user, password, host = match.groups()
            servers.append(RTCIceServer(urls=f"{scheme}:{host}", username=user, credential=password))
        else:
            servers.append(RTCIceServer(urls=item))
    return servers


def _pin_host_addresses() -> None:
    hosts = list(options().ice_hosts)
    if hosts:
        pin_host_addresses(hosts)


def new_peer_connection() -> RTCPeerConnection:
    _pin_host_addresses()
    return RTCPeerConnection(RTCConfiguration(iceServers=ice_servers()))


_MDNS_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ \S+\.local \d+ .*$", re.MULTILINE | re.IGNORECASE)


def sanitize_offer(sdp: str) -> str:
    """Remove mDNS host candidates (see the module docstring) and normalise line endings."""
    sdp = sdp.replace("\r\n", "\n")
    sdp = _MDNS_CANDIDATE.sub("", sdp)
    sdp = re.sub(r"\n+", "\n", sdp).strip("\n")
    return sdp.replace("\n", "\r\n") + "\r\n"


def looks_like_sdp(text: str) -> bool:
    return text.lstrip().startswith("v=0") and "\nm=" in text.replace("\r\n", "\n")


def h264_preferences() -> list[RTCRtpCodecCapability]:
    """H.264 constrained baseline (+ its RTX) only: the shared encoder produces exactly that."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    chosen = [c for c in codecs if c.mimeType.lower() == "video/h264"
              and c.parameters.get("profile-level-id") == H264_PROFILE
              and str(c.parameters.get("packetization-mode")) == "1"]
    rtx = [c for c in codecs if c.mimeType.lower() == "video/rtx"]
    return chosen + rtx


def opus_preferences() -> list[RTCRtpCodecCapability]:
    return [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/opus"]


def offer_has_h264(sdp: str) -> bool:
    return re.search(r"a=rtpmap:\d+ H264/90000", sdp, re.IGNORECASE) is not None


def low_latency(receiver, *, audio: bool = False) -> None:
    """Let `receiver` hand over each frame as soon as its last packet (RTP marker) is in.

    aiortc's jitter buffer releases a frame only when a packet of the *next* frame arrives: one frame
    interval (33 ms at 30 fps) per hop, so four receivers in a cascade add 130 ms for nothing. Audio
    keeps aiortc's prefetch unless `audio` (relays pass packets on; the last hop smooths jitter).
    """
    kind = receiver_kind(receiver)
    if kind == "video":
        replace_jitter_buffer(receiver, MarkerJitterBuffer(capacity=512, is_video=True))
    elif kind == "audio" and audio:
        replace_jitter_buffer(receiver, MarkerJitterBuffer(capacity=16, prefetch=0))
