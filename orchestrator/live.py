"""Live events: start/stop, the Redis state the media server reads, site reports and the operations wall.

See docs/live-contract.md; the Redis names are in groundwork.live_contract. The panel writes the event's
hash (status, confidential, floor, title) and its token versions, and announces changes on the events
channel. Sites report their state through the join page every few seconds: those reports are authorised
and stored in Redis only (a hash of the latest state per site, and a message on the event's wall
channel), never the database, so 250 sites every 2 s cost nothing there. The database gets the first
join, attendance, and the final state of every site when the event stops.
"""
from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from groundwork import tokens
from groundwork.live_contract import (
    EVENTS_CHANNEL,
    event_key,
    event_message,
    meta_key,
    parse_floor,
    sites_key,
    state_fields,
    version_field,
    versions_key,
    wall_channel,
)

from . import core
from .db import db
from .invitations import AFTER_END_GRACE, JOIN_MAX_AGE_S, JoinError, site_link_revoked
from .models import PARTICIPATION_STATES, Event, EventStatus, User, audit
from .scheduling import Participation, participations
from .sites import Site

STATES = PARTICIPATION_STATES
CONNECTED = ("joined", "receiving", "degraded")
STALE_S = 10.0           # a site silent this long (3 missed reports) shows as dropped
KEY_TTL_S = 7 * 24 * 3600
ABSURD_ATTENDANCE = 2000  # the limit for a room whose capacity nobody entered


class LiveError(Exception):
    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


def _redis() -> Redis:
    return core.redis_connection()


def _announce(event_id: int, type_: str, **extra: Any) -> None:
    _redis().publish(EVENTS_CHANNEL, event_message(event_id, type_, **extra))


# --- start / stop -------------------------------------------------------------------------------

def publish_state(event: Event) -> None:
    """Write the event's hash and the token versions of every site (and the host, subject 0)."""
    r = _redis()
    pipe = r.pipeline()
    pipe.hset(event_key(event.id), mapping=state_fields(
        status=event.status, confidential=event.confidential,
        floor=parse_floor(r.hget(event_key(event.id), "floor")), title=event.title))
    versions = {version_field("site", site_id): version for site_id, version in db.session.execute(
        db.select(Participation.site_id, Participation.token_version).where(Participation.event_id == event.id))}
    versions[version_field("host", 0)] = versions.get(version_field("host", 0), 1)
    pipe.hset(versions_key(event.id), mapping=versions)
    for key in (event_key(event.id), versions_key(event.id), sites_key(event.id)):
        pipe.expire(key, KEY_TTL_S)
    pipe.execute()


def start_event(event: Event, user: User | None) -> Event:
    if event.kind not in ("conference", "report"):
        raise LiveError("not_live_kind")
    if event.status == EventStatus.LIVE.value:
        return event
    if event.status != EventStatus.SCHEDULED.value:
        raise LiveError("cannot_start", status=event.status)
    event.status = EventStatus.LIVE.value
    audit(user, "event.start", event, confidential=event.confidential)
    db.session.commit()
    _redis().delete(meta_key(event.id))
    publish_state(event)
    _announce(event.id, "started", confidential=event.confidential)
    return event


def stop_event(event: Event, user: User | None) -> Event:
    if event.status != EventStatus.LIVE.value:
        raise LiveError("cannot_stop", status=event.status)
    event.status = EventStatus.ENDED.value
    persist_site_states(event)
    audit(user, "event.stop", event)
    db.session.commit()
    _redis().delete(meta_key(event.id))
    _redis().hset(event_key(event.id), mapping=state_fields(status=EventStatus.ENDED.value))
    _announce(event.id, "stopped")
    return event


def recording_allowed(event: Event) -> bool:
    """The rule the recording hand-off applies: a confidential event is never recorded."""
    return not event.confidential


@site_link_revoked.connect
def publish_revocation(p: Participation, **_: Any) -> None:
    r = _redis()
    r.hset(versions_key(p.event_id), version_field("site", p.site_id), p.token_version)
    _announce(p.event_id, "revoked", kind="site", subject_id=p.site_id, version=p.token_version)


# --- site reports -------------------------------------------------------------------------------

def _number(value: Any, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LiveError("bad_number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise LiveError("bad_number")
    return round(number, 1)


def current_version(event_id: int, site_id: int) -> int | None:
    """The token version in force: Redis first (the media server's copy), the database when Redis has none."""
    r = _redis()
    cached = r.hget(versions_key(event_id), version_field("site", site_id))
    if cached is not None:
        return int(cached)
    version = db.session.execute(db.select(Participation.token_version).filter_by(
        event_id=event_id, site_id=site_id)).scalar_one_or_none()
    if version is not None:
        r.hset(versions_key(event_id), version_field("site", site_id), version)
        r.expire(versions_key(event_id), KEY_TTL_S)
    return version


META_TTL_S = 30  # how long a report may trust the cached status of an event it did not see change


def _event_meta(event_id: int) -> dict[str, str] | None:
    """{status, ends_at} of an event for the report path: Redis, refreshed from the database every 30 s."""
    r = _redis()
    cached = r.hgetall(meta_key(event_id))
    if cached:
        return {k.decode(): v.decode() for k, v in cached.items()}
    event = db.session.get(Event, event_id)
    if event is None:
        return None
    meta = {"status": event.status, "ends_at": str(event.ends_at.timestamp() if event.ends_at else 0)}
    r.hset(meta_key(event_id), mapping=meta)
    r.expire(meta_key(event_id), META_TTL_S)
    return meta


def event_status(event_id: int) -> str | None:
    meta = _event_meta(event_id)
    return meta["status"] if meta else None


def check_report(token: str, event_id: int, site_id: int) -> None:
    """The join page's periodic report, authorised from Redis alone (signature, token version, event status):
    250 sites every 2 s must not cost 750 database queries a second. Raises invitations.JoinError."""
    try:
        grant = tokens.verify(token, max_age_s=JOIN_MAX_AGE_S, secret=core.token_secret())
    except tokens.TokenError as exc:
        raise JoinError(exc.code) from None
    if grant.kind != "site":
        raise JoinError("wrong_kind")
    if grant.event_id != event_id:
        raise JoinError("other_event")
    if grant.subject_id != site_id:
        other = db.session.get(Site, grant.subject_id)  # a rare mistake: the database may answer this one
        raise JoinError("other_site", site=other.name if other else "")
    version = current_version(event_id, site_id)
    if version is None:
        raise JoinError("not_invited")
    if version != grant.version:
        raise JoinError("revoked")
    meta = _event_meta(event_id)
    if meta is None:
        raise JoinError("invalid")
    if meta["status"] == EventStatus.CANCELLED.value:
        raise JoinError("cancelled")
    if meta["status"] not in (EventStatus.SCHEDULED.value, EventStatus.LIVE.value):
        raise JoinError("ended")
    if float(meta["ends_at"] or 0) and float(meta["ends_at"]) + AFTER_END_GRACE.total_seconds() < time.time():
        raise JoinError("expired")


def report_state(event_id: int, site_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    """A join page's periodic report. Redis only, except the first join of a site (joined_at in the database)."""
    state = payload.get("state") or "joined"
    if state not in STATES or state == "not_joined":
        raise LiveError("bad_state")
    message: dict[str, Any] = {"site_id": site_id, "state": state, "ts": round(time.time(), 3)}
    for key, high in (("rtt_ms", 60_000), ("loss_pct", 100), ("bitrate_kbps", 1_000_000)):
        value = _number(payload.get(key), 0, high)
        if value is not None:
            message[key] = value
    r = _redis()
    previous = r.hget(sites_key(event_id), str(site_id))
    merged = {**(json.loads(previous) if previous else {}), **message}
    pipe = r.pipeline()
    pipe.hset(sites_key(event_id), str(site_id), json.dumps(merged))
    pipe.expire(sites_key(event_id), KEY_TTL_S)
    pipe.publish(wall_channel(event_id), json.dumps(message))
    pipe.execute()
    if previous is None:
        db.session.execute(db.update(Participation).where(
            Participation.event_id == event_id, Participation.site_id == site_id, Participation.joined_at.is_(None))
            .values(joined_at=datetime.now(UTC), state=state, last_seen=datetime.now(UTC)))
        db.session.commit()
    return message


def attendance_limit(site: Site) -> int:
    return site.capacity * 2 if site.capacity else ABSURD_ATTENDANCE


def set_attendance(p: Participation, value: Any) -> int:
    """The number of people in the room, as the site technician counts it."""
    try:
        count = int(str(value).strip())
    except (TypeError, ValueError):
        raise LiveError("attendance_not_number") from None
    if count < 0:
        raise LiveError("attendance_negative")
    limit = attendance_limit(p.site)
    if count > limit:
        raise LiveError("attendance_absurd", limit=limit)
    p.attendance = count
    db.session.commit()
    message = {"site_id": p.site_id, "attendance": count, "ts": round(time.time(), 3)}
    r = _redis()
    previous = r.hget(sites_key(p.event_id), str(p.site_id))
    merged = {**(json.loads(previous) if previous else {"state": "joined"}), **message}
    pipe = r.pipeline()
    pipe.hset(sites_key(p.event_id), str(p.site_id), json.dumps(merged))
    pipe.expire(sites_key(p.event_id), KEY_TTL_S)
    pipe.publish(wall_channel(p.event_id), json.dumps(message))
    pipe.execute()
    return count


def persist_site_states(event: Event) -> None:
    """Copy the last reported state of every site into its Participation (the record after the event)."""
    raw = _redis().hgetall(sites_key(event.id))
    for p in participations(event):
        data = raw.get(str(p.site_id).encode()) if raw else None
        if not data:
            continue
        info = json.loads(data)
        p.state = effective_state(info)
        p.last_seen = datetime.fromtimestamp(info["ts"], UTC) if info.get("ts") else p.last_seen
        for key in ("rtt_ms", "loss_pct", "bitrate_kbps"):
            if info.get(key) is not None:
                setattr(p, key, info[key])


def effective_state(info: dict[str, Any], at: float | None = None) -> str:
    state = info.get("state") or "not_joined"
    ts = info.get("ts")
    if state in CONNECTED and ts and (at or time.time()) - ts > STALE_S:
        return "dropped"
    return state


# --- the wall -----------------------------------------------------------------------------------

PROBLEM_STATES = ("not_joined", "degraded", "dropped")


def wall_snapshot(event: Event, *, offset: int = 0, limit: int | None = None,
                  only_problems: bool = False) -> dict[str, Any]:
    """The participating sites with their latest state, and the totals over all of them, as the wall draws them.

    The live state is in Redis (one hash for the event), so the totals are counted here: every
    participation is read as a bare row (no ORM objects), and the sites (names, codes) are loaded only
    for the tiles of the page asked for. `limit` None: every tile (a small event's wall)."""
    raw = _redis().hgetall(sites_key(event.id)) or {}
    at = time.time()
    rows = db.session.execute(
        db.select(Participation.site_id, Participation.state, Participation.last_seen, Participation.rtt_ms,
                  Participation.loss_pct, Participation.bitrate_kbps, Participation.attendance)
        .join(Site, Participation.site_id == Site.id).where(Participation.event_id == event.id)
        .order_by(Site.depth, Site.path, Site.id)).all()
    states: list[dict[str, Any]] = []
    for site_id, state, last_seen, rtt_ms, loss_pct, bitrate_kbps, attendance in rows:
        data = raw.get(str(site_id).encode())
        info = json.loads(data) if data else {}
        states.append({
            "site_id": site_id, "state": effective_state(info, at) if info else state,
            "ts": info.get("ts") or (last_seen.timestamp() if last_seen else None),
            "rtt_ms": info.get("rtt_ms", rtt_ms), "loss_pct": info.get("loss_pct", loss_pct),
            "bitrate_kbps": info.get("bitrate_kbps", bitrate_kbps), "attendance": info.get("attendance", attendance),
        })
    shown = [t for t in states if t["state"] in PROBLEM_STATES] if only_problems else states
    page = shown[offset:] if limit is None else shown[offset:offset + limit]
    sites = {s.id: s for s in db.session.execute(
        db.select(Site).where(Site.id.in_([t["site_id"] for t in page]))).scalars()} if page else {}
    tiles = []
    for t in page:
        site = sites[t["site_id"]]
        tiles.append({**t, "code": site.code, "name": site.name, "level": site.level, "depth": site.depth,
                      "parent_id": site.parent_id, "capacity": site.capacity})
    return {"event_id": event.id, "status": event.status, "title": event.title, "server_time": at,
            "stale_s": STALE_S, "tiles": tiles, "totals": totals(states),
            "page": {"total": len(shown), "offset": offset, "limit": limit if limit is not None else len(shown),
                     "only_problems": only_problems}}


def totals(tiles: list[dict[str, Any]]) -> dict[str, int]:
    by_state = {s: 0 for s in STATES}
    for t in tiles:
        by_state[t["state"]] = by_state.get(t["state"], 0) + 1
    return {"sites": len(tiles), "connected": sum(by_state[s] for s in CONNECTED),
            "problems": by_state["degraded"] + by_state["dropped"], "attendees": sum(t["attendance"] or 0
                                                                                   for t in tiles),
            **{f"state_{k}": v for k, v in by_state.items()}}
