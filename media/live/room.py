"""A room per live event: its program, publishers, subscribers, floor and recorder.

The room is the unit of isolation: a bad publisher, a vanished viewer or a failing recorder
closes that one peer or that one recording, never the room. Peers that leave without DELETE are
found by the watchdog: no DTLS/RTP/RTCP traffic for `peer_timeout_s` (browsers and aiortc send
RTCP every second or so), or an ICE connection that fails or never completes.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from groundwork.live_contract import EventState, wall_channel

from .aiortc_internals import transport_packets_received
from .fanout import Subscriber, forget_packers
from .program import DEFAULT_RENDITIONS, Program, RenditionSpec, Source

log = logging.getLogger(__name__)


@dataclass
class Peer:
    rid: str
    role: str                   # "publisher" | "subscriber"
    pc: object
    label: str
    grant: object | None = None
    source_id: str | None = None
    source: Source | None = None
    subscriber: Subscriber | None = None
    created: float = field(default_factory=time.monotonic)
    last_rx: int = -1
    last_rx_at: float = field(default_factory=time.monotonic)

    def rx_packets(self) -> int:
        for transceiver in self.pc.getTransceivers():
            transport = transceiver.receiver.transport
            if transport is not None:
                return transport_packets_received(transport)
        return 0


@dataclass
class RoomOptions:
    renditions: tuple[RenditionSpec, ...] = DEFAULT_RENDITIONS
    fps: int = 30
    connect_timeout_s: float = 20.0
    peer_timeout_s: float = 15.0
    stats_interval_s: float = 2.0
    state_interval_s: float = 2.0
    max_subscribers: int = 1000
    naive: bool = False     # viewers get decoded, re-encoded frames (the baseline bench/fanout.py measures)


class Room:
    def __init__(self, event_id: int, state: EventState, options: RoomOptions, *,
                 redis=None, relay: bool = False):
        self.event_id = event_id
        self.state = state
        self.options = options
        self.redis = redis
        self.relay = relay
        self.program = Program(options.renditions, options.fps, passthrough=relay)
        self.program.set_floor(state.floor)
        self.peers: dict[str, Peer] = {}
        self.recording = None            # set by the server: see media/server/recording.py
        self.closed = False
        self.created = time.monotonic()
        self.on_close: list[Callable[[Room], Awaitable[None]]] = []
        self.on_first_publisher: list[Callable[[Room], None]] = []
        self.on_floor: list[Callable[[Room, str], None]] = []
        self._tasks: list[asyncio.Task] = []
        self._had_publisher = False

    def start(self) -> None:
        self.program.start()
        self._tasks.append(asyncio.ensure_future(self._watchdog()))

    # --- peers ----------------------------------------------------------------------------------

    def new_rid(self) -> str:
        return uuid.uuid4().hex

    def publisher_for(self, source_id: str) -> Peer | None:
        return next((p for p in self.peers.values() if p.role == "publisher" and p.source_id == source_id), None)

    def subscribers(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.role == "subscriber"]

    def add_publisher(self, peer: Peer) -> Source:
        source = self.program.add_source(peer.source_id)
        peer.source = source
        self.peers[peer.rid] = peer
        if not self._had_publisher:
            self._had_publisher = True
            for callback in self.on_first_publisher:
                callback(self)
        return source

    def add_subscriber(self, peer: Peer) -> None:
        self.peers[peer.rid] = peer
        peer.subscriber.attach()

    async def remove(self, rid: str, reason: str = "") -> bool:
        peer = self.peers.pop(rid, None)
        if peer is None:
            return False
        log.info("room %s: %s %s leaves (%s)", self.event_id, peer.role, peer.label, reason or "bye")
        if peer.subscriber is not None:
            peer.subscriber.detach()
            await self._publish_wall(peer, "dropped" if reason not in ("", "delete") else "joined")
        if peer.role == "publisher":
            self.program.remove_source(peer.source_id, peer.source)
        with contextlib.suppress(Exception):
            await peer.pc.close()
        return True

    # --- floor and state ------------------------------------------------------------------------

    def set_floor(self, floor: str) -> None:
        if floor == self.program.floor:
            return
        log.info("room %s: floor %s → %s", self.event_id, self.program.floor, floor)
        previous = self.program.floor
        self.program.set_floor(floor)
        for callback in self.on_floor:
            callback(self, floor)
        # The site that had the floor stops publishing: its feed is no longer the program.
        if previous != "host" and previous != floor:
            peer = self.publisher_for(previous)
            if peer is not None:
                asyncio.ensure_future(self.remove(peer.rid, "floor moved"))

    async def apply_state(self, state: EventState) -> None:
        self.state = state
        if not state.live:
            await self.close("event stopped")
            return
        self.set_floor(state.floor)

    async def refresh_state(self) -> None:
        if self.redis is None:
            return
        from .auth import grant_still_valid, read_state

        await self.apply_state(await read_state(self.redis, self.event_id))
        if self.closed:
            return
        for peer in list(self.peers.values()):
            if peer.grant is not None and not await grant_still_valid(self.redis, peer.grant):
                await self.remove(peer.rid, "token revoked")

    # --- watchdog, statistics ---------------------------------------------------------------------

    async def _watchdog(self) -> None:
        last_stats = last_state = time.monotonic()
        while not self.closed:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for peer in list(self.peers.values()):
                reason = self._peer_gone(peer, now)
                if reason:
                    await self.remove(peer.rid, reason)
                elif peer.subscriber is not None:
                    peer.subscriber.evaluate(now)
            if now - last_stats >= self.options.stats_interval_s:
                last_stats = now
                for peer in self.subscribers():
                    await self._publish_wall(peer, None)
            if now - last_state >= self.options.state_interval_s:
                last_state = now
                try:
                    await self.refresh_state()
                except Exception:  # Redis blip: keep serving, try again next time
                    log.warning("room %s: state refresh failed", self.event_id, exc_info=True)

    def _peer_gone(self, peer: Peer, now: float) -> str | None:
        state = peer.pc.connectionState
        if state in ("failed", "closed"):
            return f"connection {state}"
        if state != "connected":
            return "no connection" if now - peer.created > self.options.connect_timeout_s else None
        rx = peer.rx_packets()
        if rx != peer.last_rx:
            peer.last_rx, peer.last_rx_at = rx, now
        elif now - peer.last_rx_at > self.options.peer_timeout_s:
            return "silent"
        return None

    async def _publish_wall(self, peer: Peer, state: str | None) -> None:
        sub = peer.subscriber
        if self.redis is None or sub is None or sub.site_id is None:
            return
        now = time.monotonic()
        stats = sub.stats(now)
        if state is None:
            state = "degraded" if (stats["loss_pct"] >= 5 or sub.rendition is not self.program.top) else "receiving"
        message = {"site_id": sub.site_id, "state": state, "rtt_ms": stats["rtt_ms"], "loss_pct": stats["loss_pct"],
                   "bitrate_kbps": stats["bitrate_kbps"], "rendition": stats["rendition"], "ts": time.time(),
                   "source": "media"}
        with contextlib.suppress(Exception):
            await self.redis.publish(wall_channel(self.event_id), json.dumps(message))

    def describe(self) -> dict:
        now = time.monotonic()
        showing = self.program.showing(now)
        return {
            "event_id": self.event_id, "floor": self.program.floor, "relay": self.relay,
            "on_air": showing.source_id if showing else None,
            "publishers": [{"id": p.rid, "source": p.source_id, "label": p.label, "state": p.pc.connectionState,
                            "frames": p.source.frames_in if p.source else 0}
                           for p in self.peers.values() if p.role == "publisher"],
            "subscribers": [{"id": p.rid, "label": p.label, "state": p.pc.connectionState, **p.subscriber.stats(now)}
                            for p in self.subscribers()],
            "renditions": [{"name": r.spec.name, "width": r.spec.width, "height": r.spec.height,
                            "bitrate": r.spec.bitrate, "viewers": len(r.sinks), "packets": r.packets_out,
                            "keyframes_forced": r.keyframes_forced, "keyframe_requests": r.keyframe_requests}
                           for r in self.program.renditions],
            "ticks": self.program.ticks, "ticks_late": self.program.ticks_late,
            "recording": self.recording.describe() if self.recording else None,
        }

    async def close(self, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        log.info("room %s closing (%s)", self.event_id, reason)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:   # close() may run inside the watchdog itself
                task.cancel()
        for rid in list(self.peers):
            await self.remove(rid, reason or "room closed")
        self.program.close()
        forget_packers(self.program)
        for callback in self.on_close:
            try:
                await callback(self)
            except Exception:
                log.exception("room %s: close callback failed", self.event_id)
