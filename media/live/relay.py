"""Relay (cascade) mode: a room whose program comes from the parent node's room over WHEP.

A relay is a viewer of its parent twice over — once pinned to the parent's top rendition, once to
its bottom one — and passes those encoded packets straight to its own viewers (see
media/live/passthrough.py): no decoding, no encoding, so a level adds a jitter-buffer's worth of
latency and costs only what its viewers cost. Keyframe requests of its viewers go upstream as PLI.
When the parent goes away (network drop, parent restart), each uplink reconnects with backoff and
the children keep their own connections; timestamps stay continuous across the gap.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiortc import RTCSessionDescription

from .client import SignallingError, _exchange
from .passthrough import Timeline, tap
from .rtc import low_latency, new_peer_connection

log = logging.getLogger(__name__)


class _Leg:
    """One uplink session: the parent's rendition `which` ("top"/"bottom") into our `rendition`."""

    def __init__(self, uplink: Uplink, which: str, rendition, with_audio: bool):
        self.uplink, self.which, self.rendition, self.with_audio = uplink, which, rendition, with_audio
        self.video_timeline = Timeline(3000)
        self.audio_timeline = Timeline(960)
        self.connects = 0
        self.state = "new"
        self.task: asyncio.Task | None = None

    async def _session(self):
        pc = new_peer_connection()
        low_latency(pc.addTransceiver("video", direction="recvonly").receiver)
        if self.with_audio:
            low_latency(pc.addTransceiver("audio", direction="recvonly").receiver, audio=True)
        url = f"{self.uplink.parent}/whep/{self.uplink.room.event_id}?rendition={self.which}"
        location = await _exchange(pc, url, self.uplink.token)
        return pc, location

    async def run(self) -> None:
        room = self.uplink.room
        backoff = 0.5
        while not room.closed:
            pc = location = None
            taps = []
            try:
                self.state = "connecting"
                pc, location = await self._session()
                self.video_timeline.restart()
                self.audio_timeline.restart()
                for transceiver in pc.getTransceivers():
                    if transceiver.kind == "video":
                        taps.append(tap(transceiver.receiver, "video", self.rendition.broadcast, self.video_timeline))
                        self.rendition.upstream.receiver = transceiver.receiver
                    elif transceiver.kind == "audio" and self.with_audio:
                        taps.append(tap(transceiver.receiver, "audio", room.program.audio.broadcast,
                                        self.audio_timeline))
                self.connects += 1
                self.state = "connected"
                backoff = 0.5
                started = time.monotonic()
                log.info("relay room %s: %s uplink connected (%d)", room.event_id, self.which, self.connects)
                self.rendition.request_keyframe()     # our viewers need a keyframe to start from
                while not room.closed:
                    await asyncio.sleep(0.5)
                    if pc.connectionState in ("failed", "closed"):
                        break
                    # Parent silent (killed without a goodbye): reconnect rather than wait for ICE.
                    last = max([t.last_at for t in taps] + [started])
                    if time.monotonic() - last > 3:
                        break
                    if taps and taps[0].frames == 0 and time.monotonic() - started > 2:
                        self.rendition.request_keyframe()
            except asyncio.CancelledError:
                raise
            except SignallingError as exc:
                log.warning("relay room %s: parent refused (%s)", room.event_id, exc)
                if exc.status == 403 and "event_not_live" in exc.body:
                    await room.close("parent says the event is not live")
                    return
            except Exception as exc:
                log.warning("relay room %s: %s uplink failed (%s)", room.event_id, self.which, exc)
            finally:
                self.state = "reconnecting"
                self.rendition.upstream.receiver = None
                if pc is not None:
                    with contextlib.suppress(Exception):
                        await pc.close()
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)


class Uplink:
    def __init__(self, room, parent_url: str, token: str):
        self.room = room
        self.parent = parent_url.rstrip("/")
        self.token = token
        program = room.program
        self.legs = [_Leg(self, "top", program.top, with_audio=True)]
        if program.bottom is not program.top:
            self.legs.append(_Leg(self, "bottom", program.bottom, with_audio=False))

    @property
    def connects(self) -> int:
        return min(leg.connects for leg in self.legs)

    def start(self) -> None:
        for leg in self.legs:
            leg.task = asyncio.ensure_future(leg.run())

    async def stop(self) -> None:
        for leg in self.legs:
            if leg.task is not None:
                leg.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await leg.task


__all__ = ["Uplink", "RTCSessionDescription"]
