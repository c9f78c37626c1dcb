"""Recordings that come from the live media plane: the media server's hand-off, and report takes.

The media server joins its crash-safe segments into a raw master in storage and calls the panel
(`POST /internal/events/<id>/recording`, docs/live-contract.md); `register_live_recording` turns that
into a Recording with its pipeline stages and starts the pipeline. It is idempotent (a retried
hand-off returns the same recording) and refuses what must never be recorded (confidential events).

A report video is recorded in the studio page through the same path: `start_take` makes the event
live for the media server (Redis state as in the contract), `stop_take` ends the take; a discarded
take (re-take) is marked so that the media server drops it instead of handing it off.
"""
from __future__ import annotations

import re

from groundwork.live_contract import EVENTS_CHANNEL, HOST_FLOOR, event_key, event_message, state_fields

from . import core
from .db import db
from .models import Event, EventStatus, Recording, StageRun, StageStatus, User, audit
from .pipeline import STAGES, UserFacingError, enqueue_next

KEY_RE = re.compile(r"^live/(\d+)/master-[0-9A-Za-z]+\.mkv$")


def register_live_recording(event_id: int, storage_key: str, duration_s: float | None) -> tuple[Recording, bool]:
    """The Recording for a live master (created, and its pipeline started, on the first call)."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise UserFacingError("event_not_found")
    if event.confidential:
        raise UserFacingError("confidential", "a confidential event is never recorded")
    match = KEY_RE.match(storage_key or "")
    if match is None or int(match.group(1)) != event_id:
        raise UserFacingError("bad_storage_key", storage_key)
    existing = db.session.execute(db.select(Recording).filter_by(event_id=event_id, source_key=storage_key)
                                  ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    store = core.storage()
    if not store.exists(storage_key):
        raise UserFacingError("missing_file", storage_key)
    recording = Recording(event=event, source_key=storage_key, original_filename=storage_key.rsplit("/", 1)[-1],
                          size_bytes=store.size(storage_key), duration_s=duration_s)
    db.session.add(recording)
    for position, spec in enumerate(STAGES):
        db.session.add(StageRun(recording=recording, stage=spec.name, position=position,
                                status=StageStatus.PENDING.value))
    event.status = EventStatus.PROCESSING.value
    audit(None, "recording.live", recording, storage_key=storage_key, duration_s=duration_s)
    db.session.commit()
    enqueue_next(recording.id)
    return recording, True


# --- report takes -----------------------------------------------------------------------------------

def _announce(event: Event, type_: str) -> None:
    core.redis_connection().publish(EVENTS_CHANNEL, event_message(event.id, type_))


def start_take(event: Event, user: User) -> None:
    """Make the report event live for the media server: the studio then publishes with a studio token."""
    if event.kind != "report":
        raise UserFacingError("not_report")
    r = core.redis_connection()
    key = event_key(event.id)
    r.hset(key, mapping=state_fields(status="live", confidential=event.confidential, floor=HOST_FLOOR,
                                     title=event.title, discard=False))
    r.expire(key, 7 * 24 * 3600)
    event.status = EventStatus.LIVE.value
    audit(user, "report.take_start", event)
    db.session.commit()
    _announce(event, "started")


def stop_take(event: Event, user: User, *, discard: bool = False) -> None:
    """End the take: the media server hands the recording off, or drops it when `discard` (re-take)."""
    r = core.redis_connection()
    r.hset(event_key(event.id), mapping=state_fields(status="ended", discard=discard))
    if event.status == EventStatus.LIVE.value:
        event.status = EventStatus.ENDED.value
    audit(user, "report.take_discard" if discard else "report.take_stop", event)
    db.session.commit()
    _announce(event, "stopped")


def latest_recording(event: Event) -> Recording | None:
    return event.recordings[-1] if event.recordings else None
