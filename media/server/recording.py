"""The room's recording: segments on local disk, moved to storage as they close, joined on stop,
handed to the panel (`POST /internal/events/<id>/recording`, docs/live-contract.md).

Spool layout: `<data>/live/spool/<event_id>/` holds `seg-NNNNNN.mkv` and `manifest.json`
(`status`: recording → joined → handed_off). A server that dies leaves `recording`; the next start
(or `diemcau media-server --recover`) finalises every spool whose event is no longer live, and
resumes numbering into the same spool for an event that still is, so one master covers the whole
session, minus the seconds around the crash.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from groundwork.storage import Storage
from groundwork.tokens import sign
from media.recorder import SegmentWriter, finalise, read_manifest, write_manifest

log = logging.getLogger(__name__)


@dataclass
class RecordingConfig:
    spool_root: Path
    storage: Storage | None
    panel_url: str | None
    secret: str
    segment_s: float = 2.0


def segment_key(event_id: int, name: str) -> str:
    return f"live/{event_id}/segments/{name}"


def master_key(event_id: int, stamp: str) -> str:
    return f"live/{event_id}/master-{stamp}.mkv"


class RecordingSession:
    def __init__(self, config: RecordingConfig, event_id: int, program):
        self.config = config
        self.event_id = event_id
        self.program = program
        self.spool = config.spool_root / str(event_id)
        self.spool.mkdir(parents=True, exist_ok=True)
        manifest = read_manifest(self.spool)
        if manifest.get("status") != "recording":
            manifest = {"event_id": event_id, "status": "recording", "started_at": time.time(), "segments": []}
        manifest["resumed_at"] = time.time() if manifest.get("segments") else None
        self.manifest = manifest
        write_manifest(self.spool, manifest)
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"rec-{event_id}")
        self.writer = SegmentWriter(self.spool, segment_s=config.segment_s, on_segment=self._segment_closed,
                                    request_keyframe=program.top.request_keyframe, fps=program.fps)
        self.stopped = False
        program.top.sinks.append(self._video)
        program.audio.sinks.append(self._audio)

    def _video(self, packet) -> None:
        try:
            self.writer.video(packet)
        except Exception:  # the recording must never take the room down
            log.exception("recording %s: video packet failed", self.event_id)

    def _audio(self, packet) -> None:
        try:
            self.writer.audio(packet)
        except Exception:
            log.exception("recording %s: audio packet failed", self.event_id)

    def _segment_closed(self, path: Path, duration: float) -> None:
        self.manifest["segments"].append({"name": path.name, "duration_s": round(duration, 3)})
        self._io.submit(self._store_segment, path)

    def _store_segment(self, path: Path) -> None:
        write_manifest(self.spool, self.manifest)
        if self.config.storage is not None:
            try:
                self.config.storage.put_file(segment_key(self.event_id, path.name), path)
            except Exception:  # storage down: the local copy stays and the join uses it
                log.exception("recording %s: could not move %s to storage", self.event_id, path.name)

    def describe(self) -> dict:
        return {"segments": len(self.manifest["segments"]), "video_packets": self.writer.video_packets,
                "audio_packets": self.writer.audio_packets, "spool": str(self.spool)}

    def abort(self) -> None:
        """A discarded take: stop writing and remove the spool and the segments already stored."""
        self.stopped = True
        for sinks, fn in ((self.program.top.sinks, self._video), (self.program.audio.sinks, self._audio)):
            if fn in sinks:
                sinks.remove(fn)
        self._io.shutdown(wait=True)
        self.writer.close()
        if self.config.storage is not None:
            for item in self.manifest["segments"]:
                self.config.storage.delete(segment_key(self.event_id, item["name"]))
        discard_spool(self.config.spool_root, self.event_id)

    async def stop(self) -> dict | None:
        """Close the open segment, join everything, store the master and hand it to the panel."""
        if self.stopped:
            return None
        self.stopped = True
        for sinks, fn in ((self.program.top.sinks, self._video), (self.program.audio.sinks, self._audio)):
            if fn in sinks:
                sinks.remove(fn)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io, self.writer.close)
        self._io.shutdown(wait=True)
        self.manifest["status"] = "stopped"
        await loop.run_in_executor(None, write_manifest, self.spool, self.manifest)
        return await finish_spool(self.config, self.event_id, crashed=False)


async def finish_spool(config: RecordingConfig, event_id: int, *, crashed: bool) -> dict | None:
    """Join a spool into the master, put it in storage, hand it off; idempotent across restarts."""
    spool = config.spool_root / str(event_id)
    manifest = read_manifest(spool)
    loop = asyncio.get_running_loop()
    if manifest.get("status") in ("recording", "stopped"):
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(manifest.get("started_at") or time.time()))
        master = spool / "master.mkv"
        try:
            duration = await loop.run_in_executor(None, lambda: finalise(spool, master, crashed=crashed))
        except Exception as exc:
            log.error("recording %s: nothing usable to join (%s)", event_id, exc)
            manifest["status"] = "empty"
            write_manifest(spool, manifest)
            return None
        key = master_key(event_id, stamp)
        if config.storage is not None:
            await loop.run_in_executor(None, config.storage.put_file, key, master)
        manifest.update(status="joined", storage_key=key, duration_s=round(duration, 3), crashed=crashed)
        write_manifest(spool, manifest)
    if manifest.get("status") == "joined" and await hand_off(
            config, event_id, manifest["storage_key"], manifest["duration_s"]):
        manifest["status"] = "handed_off"
        write_manifest(spool, manifest)
        # Everything is in storage now; the local spool was only the crash-safe buffer.
        if config.storage is not None:
            for path in spool.glob("seg-*.mkv"):
                path.unlink(missing_ok=True)
            (spool / "master.mkv").unlink(missing_ok=True)
    return manifest


async def hand_off(config: RecordingConfig, event_id: int, storage_key: str, duration_s: float) -> bool:
    if not config.panel_url:
        return False
    token = sign("host", event_id, 0, 1, secret=config.secret)
    url = f"{config.panel_url}/internal/events/{event_id}/recording"
    for attempt in range(5):
        try:
            async with aiohttp.ClientSession() as http, http.post(
                    url, json={"storage_key": storage_key, "duration_s": duration_s},
                    headers={"X-Diemcau-Internal": token}, timeout=aiohttp.ClientTimeout(total=30)) as response:
                if response.status in (200, 201):
                    log.info("recording %s handed to the panel: %s", event_id, storage_key)
                    return True
                body = await response.text()
                if 400 <= response.status < 500 and response.status not in (408, 429):
                    log.error("panel refused recording %s: %s %s", event_id, response.status, body[:300])
                    return False
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("hand-off of recording %s failed (%s), retrying", event_id, exc)
        await asyncio.sleep(min(30, 2 ** attempt))
    return False


def pending_spools(spool_root: Path) -> list[tuple[int, dict]]:
    out = []
    if not spool_root.exists():
        return out
    for folder in sorted(spool_root.iterdir()):
        if folder.is_dir() and folder.name.isdigit():
            manifest = read_manifest(folder)
            if manifest.get("status") in ("recording", "stopped", "joined"):
                out.append((int(folder.name), manifest))
    return out


def discard_spool(spool_root: Path, event_id: int) -> None:
    shutil.rmtree(spool_root / str(event_id), ignore_errors=True)
