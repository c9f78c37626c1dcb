"""Who may do what to which object: the whole matrix of orchestrator.policy (role × action × object),
including a confidential event and another speaker's recording, and the list queries that must show
exactly what the checks allow."""
from __future__ import annotations

import pytest

from orchestrator.db import db
from orchestrator.models import Channel, Event, EventStatus, Recording, Transcript
from orchestrator.policy import (
    RULES,
    Action,
    Subject,
    allows,
    visible_events_clause,
    visible_recordings_clause,
)

V, D, E, A, S, X = Action.VIEW, Action.DOWNLOAD, Action.EDIT, Action.APPROVE, Action.START, Action.STOP


@pytest.fixture
def world(app, make_user):
    """Two speakers, each with a report and its recording; a confidential conference of speaker A with a
    recording; a conference technicians run; an enabled and a disabled channel."""
    with app.app_context():
        users = {role: make_user(role) for role in ("admin", "technician", "editor")}
        users["speaker"], users["other_speaker"] = make_user("speaker"), make_user("speaker")
        a, b = users["speaker"], users["other_speaker"]

        def event(title, *, kind="report", speaker=None, creator=None, confidential=False):
            ev = Event(kind=kind, title=title, status=EventStatus.READY.value, confidential=confidential,
                       speaker_id=speaker.id if speaker else None, created_by_id=creator.id if creator else None)
            db.session.add(ev)
            return ev

        own_report = event("A's report", speaker=a, creator=users["technician"])
        others_report = event("B's report", speaker=b, creator=b)
        secret = event("Confidential meeting", kind="conference", speaker=a, creator=users["technician"],
                       confidential=True)
        conference = event("Open conference", kind="conference", creator=users["technician"])
        # A's report was recorded by the technician: A is a party through the event, not the upload.
        own = Recording(event=own_report, source_key="k/a", created_by_id=users["technician"].id)
        others = Recording(event=others_report, source_key="k/b", created_by_id=b.id)
        secret_rec = Recording(event=secret, source_key="k/s", created_by_id=users["technician"].id)
        enabled = Channel(kind="wordpress", name="Trang tin", enabled=True)
        disabled = Channel(kind="youtube", name="YouTube", enabled=False)
        db.session.add_all([own, others, secret_rec, enabled, disabled])
        db.session.flush()
        transcript = Transcript(recording_id=others.id, language="vi", text="x", cues=[])
        db.session.add(transcript)
        db.session.commit()
        objects = {"own": own, "others": others, "secret": secret_rec, "own_event": own_report,
                   "others_event": others_report, "secret_event": secret, "conference": conference,
                   "others_transcript": transcript, "enabled": enabled, "disabled": disabled}
        yield users, objects
        # Other tests list the enabled channels: leave none of ours behind.
        db.session.rollback()
        db.session.execute(db.delete(Channel).where(Channel.id.in_([enabled.id, disabled.id])))
        db.session.commit()


def _answers(user, obj, subject=None) -> str:
    """The actions allowed, as letters in V D E A S X order ('-' where refused)."""
    letters = {V: "V", D: "D", E: "E", A: "A", S: "S", X: "X"}
    return "".join(letters[a] if allows(user, a, obj, subject) else "-" for a in Action)


# role → object → the allowed actions, spelled V D E A S X
MATRIX = {
    "admin": {
        "own": "VDEASX", "others": "VDEASX", "secret": "VDEASX", "own_event": "VDEASX",
        "secret_event": "VDEASX", "conference": "VDEASX", "others_transcript": "VDEASX",
        "own_transcript": "VDEASX", "enabled": "VDEASX", "disabled": "VDEASX",
    },
    "technician": {
        "own": "VD--SX", "others": "VD--SX", "secret": "VD--SX", "own_event": "VDE-SX",
        "secret_event": "VDE-SX", "conference": "VDE-SX", "others_transcript": "VDE-SX",
        "own_transcript": "VDE-SX", "enabled": "------", "disabled": "------",
    },
    "editor": {
        "own": "VDEA-X", "others": "VDEA-X", "secret": "------", "own_event": "V-----",
        "secret_event": "------", "conference": "V-----", "others_transcript": "VDEA--",
        "own_transcript": "VDEA--", "enabled": "V--A--", "disabled": "------",
    },
    "speaker": {  # speaker A: a party of "own", "own_event", "secret_event" (and so "secret")
        "own": "VD----", "others": "------", "secret": "VD----", "own_event": "V---S-",
        "secret_event": "V-----", "conference": "------", "others_transcript": "------",
        "own_transcript": "VD----", "enabled": "------", "disabled": "------",
    },
    "other_speaker": {
        "own": "------", "others": "VD----", "secret": "------", "own_event": "------",
        "secret_event": "------", "conference": "------", "others_transcript": "VD----",
        "own_transcript": "------", "enabled": "------", "disabled": "------",
    },
}


@pytest.mark.parametrize("role", list(MATRIX))
def test_role_action_object_matrix(app, world, role):
    users, objects = world
    user = users[role]
    with app.app_context():
        got = {}
        for name in MATRIX[role]:
            if name == "own_transcript":  # a recording's transcripts, asked before any row exists
                got[name] = _answers(user, db.session.get(Recording, objects["own"].id), Subject.TRANSCRIPT)
            else:
                obj = db.session.merge(objects[name])
                got[name] = _answers(user, obj)
        assert got == MATRIX[role]


def test_speaker_starts_only_their_own_report_never_a_conference(app, world):
    users, objects = world
    with app.app_context():
        speaker = users["speaker"]
        assert allows(speaker, S, db.session.merge(objects["own_event"]))
        assert not allows(speaker, S, db.session.merge(objects["secret_event"]))  # a party, but a conference
        assert not allows(users["other_speaker"], S, db.session.merge(objects["own_event"]))


def test_nobody_signed_out_and_inactive_users_may_nothing(app, world):
    users, objects = world
    from flask_login import AnonymousUserMixin

    with app.app_context():
        tech = db.session.merge(users["technician"])
        tech.active = False
        for obj in (objects["own"], objects["conference"], objects["enabled"]):
            obj = db.session.merge(obj)
            assert _answers(AnonymousUserMixin(), obj) == "------"
            assert _answers(None, obj) == "------"
            assert _answers(tech, obj) == "------"
        db.session.rollback()


def test_coarse_questions_follow_the_rules(app, world):
    """Asked of a kind before the object is loaded: the rule's roles, or anyone signed in where parties may act."""
    users, _ = world
    with app.app_context():
        speaker, editor, tech = users["speaker"], users["editor"], users["technician"]
        assert allows(speaker, D, Recording) and not allows(speaker, E, Recording)
        assert allows(editor, E, Recording) and not allows(tech, E, Recording)
        assert allows(tech, S, Recording) and not allows(editor, S, Recording)
        assert not allows(editor, E, "channel") and allows(users["admin"], E, Channel)
        assert not allows(tech, A, Event) and allows(users["admin"], A, Event)
    assert set(RULES) == {(s, a) for s in Subject for a in Action}  # every question has an answer


def test_lists_show_exactly_what_the_checks_allow(app, world):
    users, objects = world
    with app.app_context():
        ids = {objects[n].id for n in ("own", "others", "secret")}
        event_ids = {objects[n].id for n in ("own_event", "others_event", "secret_event", "conference")}
        for role, user in users.items():
            user = db.session.merge(user)
            listed = set(db.session.execute(db.select(Recording.id).join(Event).where(
                Recording.id.in_(ids), visible_recordings_clause(user))).scalars())
            allowed = {i for i in ids if allows(user, V, db.session.get(Recording, i))}
            assert listed == allowed, role
            listed_events = set(db.session.execute(db.select(Event.id).where(
                Event.id.in_(event_ids), visible_events_clause(user))).scalars())
            assert listed_events == {i for i in event_ids if allows(user, V, db.session.get(Event, i))}, role
