"""Who may do what to which object: the one answer every page, download route, API and query asks.

Objects are events, recordings, transcripts (of a recording) and publishing channels; actions are
view, download, edit, approve, start and stop. A rule names the roles that may act on every object of
its kind, and whether the object's own people (its *parties*) may act on theirs:

- the parties of an event: the speaker named on it and the user who created it;
- the parties of a recording or its transcripts: the user who uploaded or recorded it, and the
  parties of its event.

Two rules cut across the table:

- admins may do everything;
- a confidential event, and every recording and transcript of it, is closed to editors: editors work
  on what gets published, and a confidential event never is. Technicians (who run it) and its
  parties keep their access.

docs/architecture.md ("Who may do what") is the same table in words.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, or_, true

from .models import Channel, Event, Publication, Recording, Role, Transcript, User


class Action(enum.StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    EDIT = "edit"
    APPROVE = "approve"
    START = "start"
    STOP = "stop"


class Subject(enum.StrEnum):
    EVENT = "event"
    RECORDING = "recording"
    TRANSCRIPT = "transcript"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]  # may act on every object of the kind (admins always may)
    parties: bool = False  # the object's own people may act on it


def _rule(*roles: Role, parties: bool = False) -> Rule:
    return Rule(frozenset(r.value for r in roles), parties)


NOBODY = _rule()
T, E, S = Role.TECHNICIAN, Role.EDITOR, Role.SPEAKER

RULES: dict[tuple[Subject, Action], Rule] = {
    # events: scheduled conferences, report recordings, the event behind an upload
    (Subject.EVENT, Action.VIEW): _rule(T, E, parties=True),
    (Subject.EVENT, Action.DOWNLOAD): _rule(T),  # invitation sheets, QR codes, documents
    (Subject.EVENT, Action.EDIT): _rule(T),  # schedule, sites, invitations, documents, revocations
    (Subject.EVENT, Action.APPROVE): NOBODY,  # overriding a schedule conflict: admins only
    # going live, the host studio and the floor; a report's parties start their own takes (see allows)
    (Subject.EVENT, Action.START): _rule(T, parties=True),
    (Subject.EVENT, Action.STOP): _rule(T),
    # recordings: the raw master and everything made from it
    (Subject.RECORDING, Action.VIEW): _rule(T, E, parties=True),
    (Subject.RECORDING, Action.DOWNLOAD): _rule(T, E, parties=True),
    (Subject.RECORDING, Action.EDIT): _rule(E),  # trims and social cuts
    (Subject.RECORDING, Action.APPROVE): _rule(E),  # publishing, retrying and withdrawing publications
    (Subject.RECORDING, Action.START): _rule(T),  # retrying a pipeline stage
    (Subject.RECORDING, Action.STOP): _rule(T, E),  # stopping a running stage or media product
    # transcripts of a recording
    (Subject.TRANSCRIPT, Action.VIEW): _rule(T, E, parties=True),
    (Subject.TRANSCRIPT, Action.DOWNLOAD): _rule(T, E, parties=True),
    (Subject.TRANSCRIPT, Action.EDIT): _rule(T, E),  # the transcript editor and the event's glossary
    (Subject.TRANSCRIPT, Action.APPROVE): _rule(E),  # subtitles go out with the published clip
    (Subject.TRANSCRIPT, Action.START): _rule(T),  # transcribing again
    (Subject.TRANSCRIPT, Action.STOP): _rule(T),
    # publishing channels
    (Subject.CHANNEL, Action.VIEW): _rule(E),  # editors see the enabled ones to publish to
    (Subject.CHANNEL, Action.DOWNLOAD): NOBODY,
    (Subject.CHANNEL, Action.EDIT): NOBODY,  # settings and credentials: admins only
    (Subject.CHANNEL, Action.APPROVE): _rule(E),  # publishing onto an enabled channel
    (Subject.CHANNEL, Action.START): NOBODY,  # checking the connection: admins only
    (Subject.CHANNEL, Action.STOP): NOBODY,
}

_SUBJECT_OF_TYPE: dict[type, Subject] = {
    Event: Subject.EVENT, Recording: Subject.RECORDING, Transcript: Subject.TRANSCRIPT,
    Channel: Subject.CHANNEL, Publication: Subject.RECORDING,
}


def signed_in(user: Any) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False))


def holds_role(user: Any, *roles: str | Role) -> bool:
    """Coarse page access: the user is signed in and holds one of `roles` (admins hold every role)."""
    return signed_in(user) and user.has_role(*roles)


def is_admin(user: Any) -> bool:
    return holds_role(user, Role.ADMIN)


def event_parties(event: Event) -> set[int]:
    return {i for i in (event.speaker_id, event.created_by_id) if i is not None}


def recording_parties(recording: Recording) -> set[int]:
    parties = event_parties(recording.event)
    if recording.created_by_id is not None:
        parties.add(recording.created_by_id)
    return parties


def _subject_of(obj: Any, subject: Subject | None) -> Subject:
    if subject is not None:
        return Subject(subject)
    if isinstance(obj, str):
        return Subject(obj)
    kind = obj if isinstance(obj, type) else type(obj)
    for cls, found in _SUBJECT_OF_TYPE.items():
        if issubclass(kind, cls):
            return found
    raise TypeError(f"no policy for {kind.__name__}")


def _recording_of(obj: Any) -> Recording | None:
    if isinstance(obj, Recording):
        return obj
    if isinstance(obj, Publication):
        return obj.recording
    if isinstance(obj, Transcript):
        from .db import db
        return db.session.get(Recording, obj.recording_id)
    return None


def allows(user: Any, action: Action | str, obj: Any, subject: Subject | str | None = None) -> bool:
    """May `user` do `action` to `obj`?

    `obj` is an Event, Recording, Transcript, Publication (its recording) or Channel. A Recording
    with subject=Subject.TRANSCRIPT asks about that recording's transcripts. A class or a Subject
    instead of an object asks whether the user's role may do it to some object of the kind (coarse page access,
    before the object is known): true for roles of the rule and, when parties may act, for anyone
    signed in (the object's own check follows).
    """
    if not signed_in(user):
        return False
    action = Action(action)
    subject = _subject_of(obj, subject)
    if user.has_role(Role.ADMIN):
        return True
    rule = RULES[(subject, action)]
    if isinstance(obj, type | str):
        return rule.parties or user.role in rule.roles
    if subject is Subject.CHANNEL:
        return user.role in rule.roles and bool(obj.enabled)
    if subject is Subject.EVENT:
        event = obj
        parties = event_parties(event)
    else:
        recording = _recording_of(obj)
        event = recording.event
        parties = recording_parties(recording)
    if event.confidential and user.role == Role.EDITOR.value and user.id not in parties:
        return False
    if user.role in rule.roles:
        return True
    if not rule.parties or user.id not in parties:
        return False
    if subject is Subject.EVENT and action is Action.START:
        return event.kind == "report"  # a speaker records their own report; conferences are run by technicians
    return True


# --- the same rules as query filters (lists must show exactly what the checks allow) ---------------

def _confidential_closed(user: User) -> bool:
    return user.role == Role.EDITOR.value


def visible_events_clause(user: User):
    """A where-clause on Event: the events `user` may view (allows(user, VIEW, event))."""
    if not signed_in(user):
        return false()
    if user.has_role(Role.ADMIN, Role.TECHNICIAN):
        return true()
    mine = or_(Event.speaker_id == user.id, Event.created_by_id == user.id)
    if user.role in RULES[(Subject.EVENT, Action.VIEW)].roles:
        return or_(Event.confidential.is_(False), mine) if _confidential_closed(user) else true()
    return mine


def own_recordings_clause(user: User):
    """A where-clause on Recording joined with its Event: the recordings `user` is a party of."""
    return or_(Recording.created_by_id == user.id, Event.speaker_id == user.id, Event.created_by_id == user.id)


def visible_recordings_clause(user: User):
    """A where-clause on Recording joined with its Event: what allows(user, VIEW, recording) allows."""
    if not signed_in(user):
        return false()
    if user.has_role(Role.ADMIN, Role.TECHNICIAN):
        return true()
    mine = own_recordings_clause(user)
    if user.role in RULES[(Subject.RECORDING, Action.VIEW)].roles:
        return or_(Event.confidential.is_(False), mine) if _confidential_closed(user) else true()
    return mine
