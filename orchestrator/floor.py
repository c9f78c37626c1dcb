"""Floor control: which source is the program (`host`, or `site:<id>` while a site speaks).

The chair gives the floor from the host studio; the media server switches the program (and the
recording) without renegotiating any viewer, and the site's page starts publishing.
"""
from __future__ import annotations

from groundwork.live_contract import (
    EVENTS_CHANNEL,
    HOST_FLOOR,
    event_key,
    event_message,
    floor_site_id,
    parse_floor,
    site_floor,
)

from . import core
from .db import db
from .models import Event, User, audit


class FloorError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def give_floor(event: Event, floor: str, user: User | None, allowed_sites: set[int] | None = None) -> str:
    if event.status != "live":
        raise FloorError("not_live")
    if floor != HOST_FLOOR:
        try:
            site_id = floor_site_id(floor)
        except ValueError:
            raise FloorError("bad_floor") from None
        if allowed_sites is not None and site_id not in allowed_sites:
            raise FloorError("not_participant")
        floor = site_floor(site_id)
    r = core.redis_connection()
    r.hset(event_key(event.id), "floor", floor)
    r.publish(EVENTS_CHANNEL, event_message(event.id, "floor", floor=floor))
    audit(user, "event.floor", event, floor=floor)
    db.session.commit()
    return floor


def current_floor(event_id: int) -> str:
    return parse_floor(core.redis_connection().hget(event_key(event_id), "floor"))
