"""HTTP side of the media server: WHIP publish, WHEP play, room state, health.

WHIP/WHEP in the style of RFC 9725: `POST` an SDP offer (application/sdp, `Authorization: Bearer
<token>`) → `201 Created`, the SDP answer, and `Location` of the session resource; `DELETE` that
resource to leave; `PATCH` (trickle ICE / ICE restart) answers 405 — aiortc answers only once all
candidates are gathered, so clients send a complete offer. Errors are JSON: `error` (a stable code),
`message` (Vietnamese) and `message_en`.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiortc import RTCSessionDescription

from groundwork.config import load_settings, options, storage_for
from groundwork.live_contract import EVENTS_CHANNEL, HOST_FLOOR, EventState, parse_event_message, site_floor
from groundwork.redis_server import redis_url
from groundwork.tokens import TokenError, sign, verify
from media.live.aiortc_internals import negotiated_codecs
from media.live.auth import Denied, authorise, bearer, read_state
from media.live.fanout import NaiveSubscriber, Subscriber
from media.live.program import DEFAULT_RENDITIONS, parse_renditions
from media.live.room import Peer, Room, RoomOptions
from media.live.rtc import (
    h264_preferences,
    looks_like_sdp,
    low_latency,
    new_peer_connection,
    offer_has_h264,
    opus_preferences,
    sanitize_offer,
)

from .recording import RecordingConfig, RecordingSession, finish_spool, pending_spools

log = logging.getLogger("media.server")
STARTED = time.time()

PUBLISH_KINDS = ("host", "site", "studio")
PLAY_KINDS = ("host", "site", "relay", "studio")


@dataclass
class ServerConfig:
    secret: str
    redis_url: str | None
    recording: RecordingConfig
    room: RoomOptions = field(default_factory=RoomOptions)
    relay_parent: str | None = None      # base URL of the parent media server (relay mode)
    relay_token: str | None = None       # a fixed relay token (one event); else signed per event
    relay_id: int = 0
    public_url: str = ""                 # how clients reach this server (Location headers are relative)


def config_from_env(relay_parent: str | None = None, relay_token: str | None = None,
                    relay_id: int | None = None) -> ServerConfig:
    settings, opts = load_settings(), options()
    room = RoomOptions(
        renditions=parse_renditions(opts.live_renditions) if opts.live_renditions else DEFAULT_RENDITIONS,
        fps=opts.live_fps, connect_timeout_s=opts.live_connect_timeout_s, peer_timeout_s=opts.live_peer_timeout_s,
        state_interval_s=opts.live_state_interval_s, naive=opts.live_naive,
    )
    recording = RecordingConfig(
        spool_root=settings.data_dir / "live" / "spool", storage=storage_for(settings.storage_url, opts),
        panel_url=opts.panel_internal_url or settings.public_url, secret=settings.secret_key,
        segment_s=opts.live_segment_s)
    return ServerConfig(secret=settings.secret_key, redis_url=redis_url(settings), recording=recording, room=room,
                        relay_parent=relay_parent or opts.relay_parent,
                        relay_token=relay_token or opts.relay_token,
                        relay_id=relay_id if relay_id is not None else opts.relay_id)


def error(denied: Denied) -> web.Response:
    return web.json_response(denied.body(), status=denied.status, headers=cors_headers())


def cors_headers() -> dict[str, str]:
    # Pages of the panel (another origin/port) and WHIP tools call these endpoints.
    return {"Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, POST, DELETE, PATCH, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
            "Access-Control-Expose-Headers": "Location, ETag, Link"}


class MediaServer:
    def __init__(self, config: ServerConfig):
        self.config = config
        self.rooms: dict[int, Room] = {}
        self.redis = None
        self._room_locks: dict[int, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task] = []
        self.uplinks: dict[int, object] = {}
        self._finishing: set[int] = set()

    # --- lifecycle --------------------------------------------------------------------------------

    async def startup(self, _app=None) -> None:
        import redis.asyncio as aioredis

        if self.config.redis_url:
            self.redis = aioredis.from_url(self.config.redis_url)
        self._tasks.append(asyncio.ensure_future(self._listen_events()))
        self._tasks.append(asyncio.ensure_future(self.recover_spools()))

    async def shutdown(self, _app=None) -> None:
        for task in self._tasks:
            task.cancel()
        for room in list(self.rooms.values()):
            # A clean shutdown (SIGTERM) does not end the event: segments stay in the spool and the
            # next start resumes or finalises them, as after a crash, but the open segment is closed.
            if room.recording is not None:
                with contextlib.suppress(Exception):
                    room.recording.writer.close()
            room.recording = None
            await room.close("server shutdown")
        if self.redis is not None:
            await self.redis.aclose()

    async def recover_spools(self) -> None:
        """Finalise recordings an earlier run left behind, for events that are no longer live."""
        for event_id, manifest in pending_spools(self.config.recording.spool_root):
            state = await self._state(event_id)
            if state is not None and state.live and manifest.get("status") == "recording":
                log.info("recording %s: event still live, resuming into its spool", event_id)
                await self.ensure_room(event_id, state)
                continue
            log.info("recording %s: finalising what an earlier run left (%s)", event_id, manifest.get("status"))
            # Each spool on its own: one whose hand-off keeps failing must not hold up the others.
            self._tasks.append(asyncio.ensure_future(self._finish(event_id, manifest.get("status") == "recording")))

    async def _finish(self, event_id: int, crashed: bool) -> None:
        if event_id in self._finishing:
            return
        self._finishing.add(event_id)
        try:
            await finish_spool(self.config.recording, event_id, crashed=crashed)
        except Exception:
            log.exception("recovering recording %s failed", event_id)
        finally:
            self._finishing.discard(event_id)

    async def _state(self, event_id: int) -> EventState | None:
        if self.redis is None:
            return None
        return await read_state(self.redis, event_id)

    async def _listen_events(self) -> None:
        """Pub/sub from the panel: start, stop, floor, revocations take effect at once."""
        if self.redis is None:
            return
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(EVENTS_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    parsed = parse_event_message(message["data"])
                    if parsed is None:
                        continue
                    event_id, data = parsed
                    room = self.rooms.get(event_id)
                    if room is not None:
                        await room.refresh_state()
                    elif data.get("type") == "stopped":
                        await self.recover_spools()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event channel lost; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    async def ensure_room(self, event_id: int, state: EventState) -> Room:
        lock = self._room_locks.setdefault(event_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(event_id)
            if room is not None and not room.closed:
                return room
            room = Room(event_id, state, self.config.room, redis=self.redis, relay=bool(self.config.relay_parent))
            room.on_close.append(self._room_closed)
            if not room.relay and not state.confidential:
                room.on_first_publisher.append(self._start_recording)
            self.rooms[event_id] = room
            room.start()
            if room.relay:
                from media.live.relay import Uplink

                uplink = Uplink(room, self.config.relay_parent, self._relay_token(event_id))
                self.uplinks[event_id] = uplink
                uplink.start()
            elif not state.confidential and (self.config.recording.spool_root / str(event_id)).exists():
                self._start_recording(room)   # resuming after a restart
            log.info("room %s open (floor %s, %s)", event_id, state.floor, "relay" if room.relay else "origin")
            return room

    def _relay_token(self, event_id: int) -> str:
        if self.config.relay_token:
            return self.config.relay_token
        return sign("relay", event_id, self.config.relay_id, 1, secret=self.config.secret)

    def _start_recording(self, room: Room) -> None:
        if room.recording is None and not room.state.confidential and not room.relay:
            room.recording = RecordingSession(self.config.recording, room.event_id, room.program)

    async def _room_closed(self, room: Room) -> None:
        if self.rooms.get(room.event_id) is room:
            del self.rooms[room.event_id]
        uplink = self.uplinks.pop(room.event_id, None)
        if uplink is not None:
            await uplink.stop()
        if room.recording is not None:
            recording, room.recording = room.recording, None
            if room.state.discard:
                recording.abort()
            else:
                asyncio.ensure_future(recording.stop())

    # --- helpers ----------------------------------------------------------------------------------

    async def _authorise(self, request: web.Request, kinds: tuple[str, ...]):
        event_id = int(request.match_info["event_id"])
        token = bearer(request.headers.get("Authorization"), request.query.get("token"))
        if self.redis is None:
            raise Denied(503, "server_busy")
        grant, state = await authorise(self.redis, self.config.secret, event_id, token, kinds=kinds)
        return event_id, grant, state

    async def _read_offer(self, request: web.Request) -> str:
        ctype = request.headers.get("Content-Type", "")
        if ctype and not ctype.startswith("application/sdp"):
            raise Denied(415, "unsupported_media_type")
        body = await request.content.read(64 * 1024 + 1)
        try:
            text = body.decode("utf-8")  # SDP is UTF-8 (RFC 8866); other bytes are a malformed offer
        except UnicodeDecodeError:
            raise Denied(400, "malformed_sdp") from None
        if len(body) > 64 * 1024 or not looks_like_sdp(text):
            raise Denied(400, "malformed_sdp")
        return sanitize_offer(text)

    @staticmethod
    def _created(kind: str, event_id: int, rid: str, sdp: str) -> web.Response:
        return web.Response(status=201, text=sdp, content_type="application/sdp",
                            headers={**cors_headers(), "Location": f"/{kind}/{event_id}/{rid}", "ETag": f'"{rid}"'})

    # --- WHIP ---------------------------------------------------------------------------------------

    async def whip_post(self, request: web.Request) -> web.Response:
        try:
            event_id, grant, state = await self._authorise(request, PUBLISH_KINDS)
            offer = await self._read_offer(request)
            if self.config.relay_parent:
                raise Denied(403, "token_wrong_kind")   # a relay's program comes from its parent
            source_id = HOST_FLOOR if grant.kind in ("host", "studio") else site_floor(grant.subject_id)
            if source_id != HOST_FLOOR and state.floor != source_id:
                raise Denied(403, "no_floor")
            room = await self.ensure_room(event_id, state)
            existing = room.publisher_for(source_id)
            if existing is not None:
                if existing.pc.connectionState == "connected" and existing.source is not None and (
                        time.monotonic() - existing.source.last_activity < 3):
                    raise Denied(409, "already_publishing")
                await room.remove(existing.rid, "replaced by a new publish")
            return await self._publish(room, grant, source_id, offer)
        except Denied as denied:
            return error(denied)

    async def _publish(self, room: Room, grant, source_id: str, offer: str) -> web.Response:
        pc = new_peer_connection()
        peer = Peer(rid=room.new_rid(), role="publisher", pc=pc, label=source_id, grant=grant, source_id=source_id)
        tracks = []
        pc.on("track", tracks.append)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            if not tracks:
                raise ValueError("no media in the offer")
            for transceiver in pc.getTransceivers():
                low_latency(transceiver.receiver)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await pc.close()
            log.info("bad WHIP offer for room %s: %s", room.event_id, exc)
            raise Denied(400, "malformed_sdp") from None
        source = room.add_publisher(peer)
        for track in tracks:
            source.attach(track)
        log.info("room %s: publisher %s (%s)", room.event_id, source_id, peer.rid)
        return self._created("whip", room.event_id, peer.rid, pc.localDescription.sdp)

    # --- WHEP ---------------------------------------------------------------------------------------

    async def whep_post(self, request: web.Request) -> web.Response:
        try:
            event_id, grant, state = await self._authorise(request, PLAY_KINDS)
            offer = await self._read_offer(request)
            if not offer_has_h264(offer):
                raise Denied(400, "codec_unsupported")
            room = await self.ensure_room(event_id, state)
            if len(room.subscribers()) >= self.config.room.max_subscribers:
                raise Denied(503, "server_busy")
            label = f"{grant.kind}:{grant.subject_id or 0}"
            rendition = request.query.get("rendition")
            if rendition in ("top", "bottom"):
                rendition = getattr(room.program, rendition).spec.name
            pc = new_peer_connection()
            # Transceivers and codec preferences BEFORE the remote offer: aiortc fixes the codecs
            # when it applies the offer, and silently ignores preferences set later.
            # Only the kinds the viewer asked for (a relay's second uplink takes video alone).
            kinds = re.findall(r"^m=(audio|video) ", offer, re.MULTILINE)
            cls = NaiveSubscriber if room.options.naive else Subscriber
            subscriber = cls(room.program, pc=pc, label=label,
                             site_id=grant.subject_id if grant.kind == "site" else None, rendition=rendition)
            transceivers = []
            for kind in dict.fromkeys(kinds):
                transceiver = pc.addTransceiver(kind, direction="sendonly")
                transceiver.setCodecPreferences(h264_preferences() if kind == "video" else opus_preferences())
                transceiver.sender.replaceTrack(subscriber.video if kind == "video" else subscriber.audio)
                transceivers.append(transceiver)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                await pc.close()
                log.info("bad WHEP offer for room %s: %s", event_id, exc)
                raise Denied(400, "malformed_sdp") from None
            for transceiver in transceivers:
                if not negotiated_codecs(transceiver):
                    raise Denied(400, "codec_unsupported")
                subscriber.hook_sender(transceiver.sender)
            peer = Peer(rid=room.new_rid(), role="subscriber", pc=pc, label=label, grant=grant, subscriber=subscriber)
            room.add_subscriber(peer)
            return self._created("whep", event_id, peer.rid, pc.localDescription.sdp)
        except Denied as denied:
            return error(denied)

    # --- resources ----------------------------------------------------------------------------------

    async def resource_delete(self, request: web.Request) -> web.Response:
        event_id = int(request.match_info["event_id"])
        rid = request.match_info["rid"]
        room = self.rooms.get(event_id)
        peer = room.peers.get(rid) if room else None
        if peer is None:
            return error(Denied(404, "not_found"))
        token = bearer(request.headers.get("Authorization"), request.query.get("token"))
        try:
            grant = verify(token or "", max_age_s=10 ** 9, secret=self.config.secret)
        except TokenError:
            return error(Denied(401, "token_invalid"))
        if peer.grant is not None and (grant.kind, grant.subject_id, grant.event_id) != (
                peer.grant.kind, peer.grant.subject_id, peer.grant.event_id):
            return error(Denied(403, "token_wrong_kind"))
        await room.remove(rid, "delete")
        return web.Response(status=200, headers=cors_headers())

    async def resource_patch(self, _request: web.Request) -> web.Response:
        return web.json_response(Denied(405, "not_supported").body(), status=405,
                                 headers={**cors_headers(), "Allow": "DELETE"})

    async def options(self, _request: web.Request) -> web.Response:
        return web.Response(status=204, headers={**cors_headers(), "Accept-Post": "application/sdp"})

    async def room_state(self, request: web.Request) -> web.Response:
        """Floor and on-air source for a page holding a token of this event (polled by players)."""
        try:
            event_id, grant, state = await self._authorise(request, PLAY_KINDS)
        except Denied as denied:
            return error(denied)
        room = self.rooms.get(event_id)
        body = {"event_id": event_id, "status": state.status, "floor": state.floor, "room": room is not None,
                "you": f"{grant.kind}:{grant.subject_id or 0}", "may_publish": (
                    grant.kind in ("host", "studio") or state.floor == site_floor(grant.subject_id))}
        if room is not None and grant.kind in ("host", "relay"):
            body["detail"] = room.describe()
        return web.json_response(body, headers=cors_headers())

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({
            "status": "ok", "uptime_s": round(time.time() - STARTED, 1), "rooms": len(self.rooms),
            "relay_parent": self.config.relay_parent,
            "peers": sum(len(r.peers) for r in self.rooms.values())}, headers=cors_headers())

    async def debug_rooms(self, request: web.Request) -> web.Response:
        """Detail of every room, for operators on the loopback interface only."""
        if request.remote not in ("127.0.0.1", "::1"):
            return error(Denied(403, "token_wrong_kind"))
        return web.json_response({str(k): r.describe() for k, r in self.rooms.items()})


def make_app(config: ServerConfig | None = None) -> web.Application:
    server = MediaServer(config or config_from_env())
    app = web.Application(client_max_size=256 * 1024)
    app["server"] = server
    app.on_startup.append(server.startup)
    app.on_shutdown.append(server.shutdown)
    r = app.router
    r.add_get("/health", server.health)
    r.add_get("/rooms", server.debug_rooms)
    for kind, handler in (("whip", server.whip_post), ("whep", server.whep_post)):
        r.add_post(f"/{kind}/{{event_id:\\d+}}", handler)
        r.add_route("OPTIONS", f"/{kind}/{{event_id:\\d+}}", server.options)
        r.add_delete(f"/{kind}/{{event_id:\\d+}}/{{rid:[0-9a-f]+}}", server.resource_delete)
        r.add_patch(f"/{kind}/{{event_id:\\d+}}/{{rid:[0-9a-f]+}}", server.resource_patch)
        r.add_route("OPTIONS", f"/{kind}/{{event_id:\\d+}}/{{rid:[0-9a-f]+}}", server.options)
    r.add_get("/events/{event_id:\\d+}/state", server.room_state)
    r.add_route("OPTIONS", "/events/{event_id:\\d+}/state", server.options)
    return app


async def recover_only(config: ServerConfig) -> list:
    """Finalise every spool of events that are not live (the reconciler's path, no HTTP server)."""
    server = MediaServer(config)
    import redis.asyncio as aioredis

    server.redis = aioredis.from_url(config.redis_url) if config.redis_url else None
    out = []
    for event_id, manifest in pending_spools(config.recording.spool_root):
        state = await server._state(event_id)
        if state is not None and state.live and manifest.get("status") == "recording":
            continue
        out.append(await finish_spool(config.recording, event_id, crashed=manifest.get("status") == "recording"))
    if server.redis is not None:
        await server.redis.aclose()
    return out


def run_forever(host: str, port: int, config: ServerConfig | None = None) -> None:
    logging.getLogger("aiortc").setLevel(logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(make_app(config), host=host, port=port, print=None, access_log=None,
                    shutdown_timeout=5)


__all__ = ["MediaServer", "ServerConfig", "config_from_env", "make_app", "run_forever", "recover_only", "Path"]
