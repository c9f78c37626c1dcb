"""aiortc viewers for the tests: count decoded frames and audio, keep a few frames to look at."""
from __future__ import annotations

import asyncio
import contextlib
import random
import time

from aiortc.mediastreams import MediaStreamError

from media.live.client import play


class Viewer:
    def __init__(self):
        self.video_frames = 0
        self.audio_frames = 0
        self.audio_samples = 0
        self.sizes: set[tuple[int, int]] = set()
        self.first_video_at: float | None = None
        self.last_frame = None
        self.frames_by_size: dict[tuple[int, int], int] = {}
        self.luma: list[float] = []
        self.session = None
        self.started = time.monotonic()
        self._tasks: list[asyncio.Task] = []

    def on_track(self, track) -> None:
        self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    if self.first_video_at is None:
                        self.first_video_at = time.monotonic()
                    size = (frame.width, frame.height)
                    self.sizes.add(size)
                    self.frames_by_size[size] = self.frames_by_size.get(size, 0) + 1
                    self.last_frame = frame
                    if self.video_frames % 5 == 0:
                        self.luma.append(float(frame.to_ndarray(format="gray").mean()))
                else:
                    self.audio_frames += 1
                    self.audio_samples += frame.samples

    async def connect(self, base_url: str, event_id: int, token: str, query: str = "") -> Viewer:
        self.started = time.monotonic()
        self.session = await play(f"{base_url}/whep/{event_id}{query}", token, self.on_track)
        return self

    async def close(self, delete: bool = True) -> None:
        for task in self._tasks:
            task.cancel()
        if self.session:
            await self.session.close(delete=delete)


class LossyLink:
    """A congested link in front of a viewer: a fraction of its RTP packets never arrive (dropped
    after SRTP, so its NACKs and receiver reports say so), until `active` is cleared."""

    def __init__(self, viewer: Viewer, fraction: float, seed: int = 7):
        transport = viewer.session.pc.getTransceivers()[0].receiver.transport
        self._deliver = transport._handle_rtp_data
        self._rng = random.Random(seed)
        self.fraction = fraction
        self.active = True
        transport._handle_rtp_data = self._receive

    async def _receive(self, data: bytes, arrival_time_ms: int) -> None:
        if self.active and self._rng.random() < self.fraction:
            return
        await self._deliver(data, arrival_time_ms)


def rendition_of(server, event_id: int, label: str) -> str | None:
    """The rendition the server sends to the viewer with this label (site:N), from its /rooms."""
    subscribers = server.rooms().get(str(event_id), {}).get("subscribers", [])
    return {s["label"]: s["rendition"] for s in subscribers}.get(label)


async def congest_then_heal(server, event_id: int, good: Viewer, lossy: Viewer, label: str) -> dict:
    """`lossy` loses 40 % of its packets until `server` moves it to the 180p rendition; then its
    link heals. Returns whether it moved, the room then, whether it decoded 180p afterwards, and
    whether `good` kept receiving meanwhile (a slow viewer must not drag the others down)."""
    link = LossyLink(lossy, 0.4)
    moved = await wait_for(lambda: rendition_of(server, event_id, label) == "180p", 25, 0.5)
    room = server.rooms()[str(event_id)]
    link.active = False            # the lower rendition fits the link: the viewer decodes it
    decoded = await wait_for(lambda: (320, 180) in lossy.sizes, 30, 0.3)
    frames = good.video_frames
    await asyncio.sleep(1)
    return {"moved": moved, "room": room, "decoded": decoded, "good_kept_going": good.video_frames > frames}


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()
