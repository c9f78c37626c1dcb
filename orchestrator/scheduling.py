"""Scheduling: conferences over the tree of sites, report recordings, monthly recurrence, conflicts.

Times are entered in Asia/Ho_Chi_Minh and stored in UTC. A site, a studio or a speaker cannot be
booked by two scheduled/live events whose windows overlap; only an admin may override, and the
override is written to the audit log with the events it collided with.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, rrule
from sqlalchemy import insert
from sqlalchemy.orm import contains_eager

from .db import db
from .models import PARTICIPATION_STATES, Event, EventStatus, Participation, Role, Series, Site, User, audit
from .naming import slugify
from .policy import Action, allows, visible_events_clause
from .runtime import now
from .sites import subtree_query

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PAST_GRACE = timedelta(minutes=5)    # a form filled in at 08:00 for 08:00 is not "in the past"
MAX_DURATION = timedelta(hours=24)
MAX_OCCURRENCES = 24
BLOCKING_STATUSES = (EventStatus.SCHEDULED.value, EventStatus.LIVE.value)  # an ended event frees its rooms
KINDS = ("conference", "report")







class SchedulingError(Exception):
    """Bad input, with a stable code the panel translates and the parameters for its message."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Conflict:
    kind: str            # site | studio | speaker
    subject: str         # the site's or the speaker's name
    event_id: int
    event_title: str
    starts_at: datetime
    ends_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "event_id": self.event_id,
                "event_title": self.event_title, "starts_at": self.starts_at.isoformat(),
                "ends_at": self.ends_at.isoformat()}


class ConflictError(SchedulingError):
    def __init__(self, conflicts: list[Conflict], occurrence: datetime | None = None):
        super().__init__("conflict", count=len(conflicts))
        self.conflicts = conflicts
        self.occurrence = occurrence


@dataclass
class EventInput:
    kind: str
    title: str
    starts_at: datetime                  # aware; use parse_local() for form input
    ends_at: datetime
    description: str = ""
    series_id: int | None = None
    host_site_id: int | None = None
    site_ids: list[int] = field(default_factory=list)
    speaker_id: int | None = None
    studio_site_id: int | None = None
    confidential: bool = False
    language: str = "vi"
    monthly_count: int = 1               # 1: a single event; n > 1: n monthly occurrences


# --- time ---------------------------------------------------------------------------------------

# Times outside these years are typing mistakes (and some do not survive a time zone change).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def parse_local(value: str | None) -> datetime | None:
    """'2026-12-01T08:00' typed in Vietnam → an aware UTC datetime (None when empty or unreadable)."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(str(value).strip())
        if naive.tzinfo is None:
            naive = naive.replace(tzinfo=TZ)
        moment = naive.astimezone(UTC)
    except (ValueError, OverflowError):  # year 0001 at +07:00 is before datetime.min
        return None
    return moment if EARLIEST_YEAR <= moment.year <= LATEST_YEAR else None


def to_local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes: they were stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TZ)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- permissions --------------------------------------------------------------------------------

def visible_events_query(user: User):
    return db.select(Event).where(Event.kind.in_(KINDS), visible_events_clause(user))


def events_between(user: User, start: datetime, end: datetime) -> list[Event]:
    query = (visible_events_query(user).where(Event.starts_at < end, Event.ends_at > start)
             .order_by(Event.starts_at, Event.id))
    return list(db.session.execute(query).scalars())


# --- series -------------------------------------------------------------------------------------

def all_series() -> list[Series]:
    return list(db.session.execute(db.select(Series).order_by(Series.name)).scalars())


def ensure_series(name: str, description: str = "") -> Series:
    name = name.strip()[:200]
    if not name:
        raise SchedulingError("series_name")
    slug = slugify(name, 100)
    series = db.session.execute(db.select(Series).filter_by(slug=slug)).scalar_one_or_none()
    if series is None:
        series = Series(name=name, slug=slug, description=description)
        db.session.add(series)
        db.session.flush()
    return series


# --- choosing participants ----------------------------------------------------------------------

def select_sites(root_ids: Iterable[int], levels: Iterable[str] | None = None,
                 within_ids: Iterable[int] = ()) -> list[Site]:
    """Sites under `root_ids` whose level is in `levels` (all levels when None).

    `within_ids` narrows the deeper levels to some branches: "the province, all districts, and the
    communes of these 3 districts" is roots=[province], levels=[province, district, commune],
    within=[3 districts]. Levels at or above the `within` sites are not narrowed.
    """
    levels = list(levels) if levels is not None else None
    roots = [s for s in (db.session.get(Site, i) for i in root_ids) if s is not None]
    within = [s for s in (db.session.get(Site, i) for i in within_ids) if s is not None]
    min_within_depth = min((s.depth for s in within), default=None)
    chosen: dict[int, Site] = {}
    for root in roots:
        for site in db.session.execute(subtree_query(root, levels=levels)).scalars():
            if min_within_depth is not None and site.depth > min_within_depth and \
                    not any(site.path.startswith(w.path) for w in within):
                continue
            chosen[site.id] = site
    return sorted(chosen.values(), key=lambda s: (s.depth, s.path))


# --- conflicts ----------------------------------------------------------------------------------

def find_conflicts(starts_at: datetime, ends_at: datetime, *, site_ids: Iterable[int] = (),
                   studio_site_id: int | None = None, speaker_id: int | None = None,
                   exclude_ids: Iterable[int] = ()) -> list[Conflict]:
    """Everything that is already booked in an overlapping window ([start, end) overlaps)."""
    others = list(db.session.execute(
        db.select(Event).where(Event.kind.in_(KINDS), Event.status.in_(BLOCKING_STATUSES),
                               Event.starts_at < ends_at, Event.ends_at > starts_at,
                               Event.id.not_in(list(exclude_ids) or [-1]))
        .order_by(Event.starts_at)).scalars())
    if not others:
        return []
    wanted = set(site_ids)
    if studio_site_id:
        wanted.add(studio_site_id)
    conflicts: list[Conflict] = []
    site_names: dict[int, str] = {}
    for other in others:
        booked = set(db.session.execute(db.select(Participation.site_id).where(
            Participation.event_id == other.id)).scalars())
        booked.update(i for i in (other.host_site_id, other.studio_site_id) if i)
        for site_id in sorted(booked & wanted):
            if site_id not in site_names:
                site = db.session.get(Site, site_id)
                site_names[site_id] = site.name if site else str(site_id)
            kind = "studio" if site_id == studio_site_id else "site"
            conflicts.append(Conflict(kind, site_names[site_id], other.id, other.title,
                                      as_utc(other.starts_at), as_utc(other.ends_at)))
        if speaker_id and other.speaker_id == speaker_id:
            speaker = db.session.get(User, speaker_id)
            conflicts.append(Conflict("speaker", speaker.display_name or speaker.username, other.id, other.title,
                                      as_utc(other.starts_at), as_utc(other.ends_at)))
    return conflicts


# --- create / update ----------------------------------------------------------------------------

def _validate(data: EventInput, *, check_past: bool = True) -> None:
    if data.kind not in KINDS:
        raise SchedulingError("bad_kind")
    if not data.title.strip():
        raise SchedulingError("title_required")
    if len(data.title) > 300:
        raise SchedulingError("title_too_long")
    if data.starts_at is None or data.ends_at is None:
        raise SchedulingError("time_required")
    if data.ends_at <= data.starts_at:
        raise SchedulingError("end_before_start")
    if data.ends_at - data.starts_at > MAX_DURATION:
        raise SchedulingError("too_long")
    if check_past and data.starts_at < now() - PAST_GRACE:
        raise SchedulingError("in_past")
    if not 1 <= data.monthly_count <= MAX_OCCURRENCES:
        raise SchedulingError("bad_recurrence", max=MAX_OCCURRENCES)
    if data.series_id is not None and db.session.get(Series, data.series_id) is None:
        raise SchedulingError("unknown_series")
    # A language code Whisper knows ("vi", "en", …) or "auto" (detected from the recording).
    if not (data.language == "auto" or (2 <= len(data.language) <= 3 and data.language.isascii()
                                        and data.language.isalpha() and data.language.islower())):
        raise SchedulingError("bad_language")
    if data.kind == "conference":
        if not data.host_site_id or db.session.get(Site, data.host_site_id) is None:
            raise SchedulingError("host_required")
    else:
        speaker = db.session.get(User, data.speaker_id) if data.speaker_id else None
        if speaker is None or not speaker.active:
            raise SchedulingError("speaker_required")
        if not data.studio_site_id or db.session.get(Site, data.studio_site_id) is None:
            raise SchedulingError("studio_required")
    if data.site_ids:
        ids = set(data.site_ids)
        found = 0
        for chunk in _chunks(sorted(ids), 5000):
            found += db.session.execute(db.select(db.func.count(Site.id)).where(Site.id.in_(chunk))).scalar_one()
        if found != len(ids):
            raise SchedulingError("unknown_site")


def _chunks(items: list[int], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def occurrences(starts_at: datetime, count: int) -> list[datetime]:
    """Monthly occurrences at the same local wall time (months without that day are skipped, as RFC 5545 says)."""
    if count <= 1:
        return [starts_at]
    local = to_local(starts_at).replace(tzinfo=None)
    return [d.replace(tzinfo=TZ).astimezone(UTC) for d in rrule(MONTHLY, dtstart=local, count=count)]


def _check_conflicts(user: User | None, data: EventInput, starts: datetime, ends: datetime, override: bool,
                     exclude_ids: Iterable[int] = ()) -> list[Conflict]:
    conflicts = find_conflicts(starts, ends, site_ids=list(data.site_ids) + ([data.host_site_id] if
                               data.host_site_id else []),
                               studio_site_id=data.studio_site_id, speaker_id=data.speaker_id,
                               exclude_ids=exclude_ids)
    if conflicts and not (override and allows(user, Action.APPROVE, Event)):
        raise ConflictError(conflicts, starts)
    return conflicts


def create_event(user: User | None, data: EventInput, *, override: bool = False) -> list[Event]:
    """Create an event (and its monthly occurrences). Returns the events, first one first."""
    _validate(data)
    duration = data.ends_at - data.starts_at
    starts = occurrences(data.starts_at, data.monthly_count)
    overridden: list[tuple[datetime, list[Conflict]]] = []
    for start in starts:
        found = _check_conflicts(user, data, start, start + duration, override)
        if found:
            overridden.append((start, found))
    events: list[Event] = []
    for start in starts:
        event = Event(kind=data.kind, title=data.title.strip(), description=data.description.strip(),
                      language=data.language, confidential=data.confidential,
                      status=EventStatus.SCHEDULED.value, created_by_id=user.id if user else None,
                      starts_at=start, ends_at=start + duration, series_id=data.series_id,
                      host_site_id=data.host_site_id if data.kind == "conference" else None,
                      speaker_id=data.speaker_id if data.kind == "report" else None,
                      studio_site_id=data.studio_site_id if data.kind == "report" else None)
        if events:
            event.recurrence_parent_id = events[0].id
        elif len(starts) > 1:
            event.recurrence = f"FREQ=MONTHLY;COUNT={len(starts)}"
        db.session.add(event)
        db.session.flush()
        _insert_participations(event.id, data.site_ids)
        events.append(event)
    audit(user, "event.create", events[0], kind=data.kind, occurrences=len(events),
          sites=len(set(data.site_ids)), confidential=data.confidential)
    for start, found in overridden:
        audit(user, "event.conflict_override", events[0], occurrence=start.isoformat(),
              conflicts=[c.to_dict() for c in found])
    db.session.commit()
    return events


def _insert_participations(event_id: int, site_ids: Iterable[int]) -> None:
    rows = [{"event_id": event_id, "site_id": i, "token_version": 1, "state": "not_joined"}
            for i in sorted(set(site_ids))]
    if rows:
        db.session.execute(insert(Participation), rows)


def update_event(event: Event, user: User | None, data: EventInput, *, override: bool = False) -> Event:
    """Edit a scheduled event (this occurrence only). Participants are replaced by `data.site_ids`."""
    if event.status != EventStatus.SCHEDULED.value:
        raise SchedulingError("not_editable")
    data.monthly_count = 1
    same_time = as_utc(event.starts_at) == data.starts_at if event.starts_at else False
    _validate(data, check_past=not same_time)
    found = _check_conflicts(user, data, data.starts_at, data.ends_at, override, exclude_ids=[event.id])
    event.title, event.description = data.title.strip(), data.description.strip()
    event.starts_at, event.ends_at = data.starts_at, data.ends_at
    event.series_id, event.confidential, event.language = data.series_id, data.confidential, data.language
    if event.kind == "conference":
        event.host_site_id = data.host_site_id
    else:
        event.speaker_id, event.studio_site_id = data.speaker_id, data.studio_site_id
    set_participants(event, data.site_ids)
    audit(user, "event.update", event)
    if found:
        audit(user, "event.conflict_override", event, conflicts=[c.to_dict() for c in found])
    db.session.commit()
    return event


def _participations_query(event: Event):
    # The site comes in the same query: one lazy load per row is 10,000 queries for a big conference.
    return (db.select(Participation).join(Site, Participation.site_id == Site.id)
            .options(contains_eager(Participation.site))
            .where(Participation.event_id == event.id).order_by(Site.depth, Site.path, Site.id))


def participations(event: Event) -> list[Participation]:
    return list(db.session.execute(_participations_query(event)).scalars())


PAGE_MAX = 1000  # the largest page any list of participants is served in
OFFSET_MAX = 2**31 - 1  # beyond any event; a bigger number typed in a URL would overflow the SQL OFFSET


@dataclass
class ParticipantCounts:
    """An event's participants counted in SQL: how many, in which (recorded) state, how many people."""
    sites: int
    attendees: int
    by_state: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"sites": self.sites, "attendees": self.attendees, "by_state": self.by_state}


@dataclass
class ParticipantPage:
    items: list[Participation]
    total: int           # rows that match the filter, over every page
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def prev_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "offset": self.offset, "limit": self.limit, "next_offset": self.next_offset}


def participant_counts(event: Event) -> ParticipantCounts:
    rows = db.session.execute(
        db.select(Participation.state, db.func.count(), db.func.coalesce(db.func.sum(Participation.attendance), 0))
        .where(Participation.event_id == event.id).group_by(Participation.state)).all()
    by_state = {s: 0 for s in PARTICIPATION_STATES}
    for state, count, _people in rows:
        by_state[state] = by_state.get(state, 0) + count
    return ParticipantCounts(sites=sum(r[1] for r in rows), attendees=int(sum(r[2] for r in rows)),
                             by_state=by_state)


def page_bounds(offset: Any, limit: Any, default_limit: int) -> tuple[int, int]:
    """(offset, limit) from query-string values: unreadable or out-of-range values fall back to the defaults."""
    try:
        offset = min(max(0, int(offset)), OFFSET_MAX)
    except (TypeError, ValueError):
        offset = 0
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        limit = default_limit
    return offset, min(max(1, limit), PAGE_MAX)


def participation_page(event: Event, *, offset: int = 0, limit: int = 100, states: Iterable[str] | None = None,
                       counts: ParticipantCounts | None = None) -> ParticipantPage:
    """One page of an event's participants in tree order (level, then path), sites loaded with them.
    The total comes from the counts by state, so a page costs two queries whatever the event's size."""
    counts = counts or participant_counts(event)
    query = _participations_query(event)
    if states is not None:
        states = list(states)
        query = query.where(Participation.state.in_(states))
        total = sum(counts.by_state.get(s, 0) for s in states)
    else:
        total = counts.sites
    items = list(db.session.execute(query.offset(offset).limit(limit)).scalars())
    return ParticipantPage(items=items, total=total, offset=offset, limit=limit)


def set_participants(event: Event, site_ids: Iterable[int]) -> None:
    wanted = set(site_ids)
    current = {p.site_id: p for p in participations(event)}
    for site_id, p in current.items():
        if site_id not in wanted:
            db.session.delete(p)
    _insert_participations(event.id, wanted - set(current))


def add_participant(event: Event, site: Site, user: User | None, *, override: bool = False) -> Participation:
    if event.status not in BLOCKING_STATUSES:
        raise SchedulingError("not_editable")
    existing = db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=site.id)
                                  ).scalar_one_or_none()
    if existing is not None:
        return existing
    conflicts = find_conflicts(as_utc(event.starts_at), as_utc(event.ends_at), site_ids=[site.id],
                               exclude_ids=[event.id])
    if conflicts and not (override and allows(user, Action.APPROVE, Event)):
        raise ConflictError(conflicts)
    p = Participation(event_id=event.id, site_id=site.id)
    db.session.add(p)
    audit(user, "event.site_add", event, site_id=site.id)
    if conflicts:
        audit(user, "event.conflict_override", event, conflicts=[c.to_dict() for c in conflicts])
    db.session.commit()
    return p


def remove_participant(event: Event, site_id: int, user: User | None) -> None:
    if event.status != EventStatus.SCHEDULED.value:
        raise SchedulingError("not_editable")
    p = db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=site_id)
                           ).scalar_one_or_none()
    if p is not None:
        db.session.delete(p)
        audit(user, "event.site_remove", event, site_id=site_id)
        db.session.commit()


def cancel_event(event: Event, user: User | None) -> None:
    if event.status != EventStatus.SCHEDULED.value:
        raise SchedulingError("not_cancellable")
    event.status = EventStatus.CANCELLED.value
    audit(user, "event.cancel", event)
    db.session.commit()


def speakers() -> list[User]:
    return list(db.session.execute(db.select(User).where(User.active.is_(True), User.role.in_(
        [Role.SPEAKER.value, Role.ADMIN.value, Role.TECHNICIAN.value])).order_by(User.display_name)).scalars())
