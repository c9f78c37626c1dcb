"""aiortc viewers for the tests: count decoded frames and audio, keep a few frames to look at."""
from __future__ import annotations

import asyncio
import contextlib
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


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()
