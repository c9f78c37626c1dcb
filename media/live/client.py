"""WHIP/WHEP clients on aiortc: the relay's uplink to its parent, the tests and the benchmark."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp
from aiortc import RTCSessionDescription

from .rtc import h264_preferences, low_latency, new_peer_connection


class SignallingError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status
        self.body = body


@dataclass
class Session:
    pc: object
    resource_url: str
    token: str

    async def close(self, *, delete: bool = True) -> None:
        if delete:
            try:
                async with aiohttp.ClientSession() as http, http.delete(
                        self.resource_url, headers={"Authorization": f"Bearer {self.token}"},
                        timeout=aiohttp.ClientTimeout(total=5)):
                    pass
            except (TimeoutError, aiohttp.ClientError):
                pass
        await self.pc.close()


async def _exchange(pc, url: str, token: str) -> str:
    await pc.setLocalDescription(await pc.createOffer())   # aiortc gathers every candidate here
    async with aiohttp.ClientSession() as http, http.post(
            url, data=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=30)) as response:
        body = await response.text()
        if response.status != 201:
            await pc.close()
            raise SignallingError(response.status, body)
        location = urljoin(url, response.headers["Location"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    return location


async def publish(url: str, token: str, tracks, *, h264: bool = False) -> Session:
    """WHIP: send `tracks` (aiortc MediaStreamTracks) to the room at `url` (VP8 unless `h264`)."""
    pc = new_peer_connection()
    for track in tracks:
        transceiver = pc.addTransceiver(track, direction="sendonly")
        if h264 and track.kind == "video":
            transceiver.setCodecPreferences(h264_preferences())
    return Session(pc, await _exchange(pc, url, token), token)


async def play(url: str, token: str, on_track, *, pc=None) -> Session:
    """WHEP: receive the program; `on_track(track)` is called for the audio and the video track."""
    pc = pc or new_peer_connection()
    pc.on("track", on_track)
    low_latency(pc.addTransceiver("video", direction="recvonly").receiver)   # as a browser: no extra frame wait
    pc.addTransceiver("audio", direction="recvonly")
    return Session(pc, await _exchange(pc, url, token), token)
