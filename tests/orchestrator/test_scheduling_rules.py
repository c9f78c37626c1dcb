"""Scheduling rules on the real database: time zone, participants by level and subtree, conflicts
(site, studio, speaker), admin override with audit, bad times, monthly recurrence."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.db import db
from orchestrator.models import AuditLog, EventStatus
from orchestrator.scheduling import (
    TZ,
    ConflictError,
    EventInput,
    Participation,
    SchedulingError,
    add_participant,
    cancel_event,
    create_event,
    occurrences,
    parse_local,
    select_sites,
    update_event,
)
from orchestrator.sites import Site, import_bytes


def make_tree() -> dict[str, Site]:
    """A province, two districts with two communes each, codes unique to this test."""
    u = uuid.uuid4().hex[:6]
    lines = ["code,name,level,parent_code", f"P{u},Tỉnh {u},province,",
             f"D1{u},Huyện 1 {u},district,P{u}", f"D2{u},Huyện 2 {u},district,P{u}",
             f"C11{u},Xã 11 {u},commune,D1{u}", f"C12{u},Xã 12 {u},commune,D1{u}",
             f"C21{u},Xã 21 {u},commune,D2{u}", f"C22{u},Xã 22 {u},commune,D2{u}"]
    assert import_bytes("\n".join(lines).encode(), "t.csv").ok
    sites = db.session.execute(db.select(Site).where(Site.code.like(f"%{u}"))).scalars()
    return {s.code.removesuffix(u): s for s in sites}


def future(days: int, hour: int = 8) -> datetime:
    local = datetime.now(TZ).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return local.astimezone(UTC)


def conference(tree, start, hours=2, sites=("P", "D1", "C11"), **kw) -> EventInput:
    return EventInput(kind="conference", title=kw.pop("title", "Hội nghị"), starts_at=start,
                      ends_at=start + timedelta(hours=hours), host_site_id=tree["P"].id,
                      site_ids=[tree[c].id for c in sites], **kw)


def test_local_time_is_stored_in_utc():
    assert parse_local("2031-03-01T08:00") == datetime(2031, 3, 1, 1, 0, tzinfo=UTC)
    assert parse_local("2031-03-01T08:00+00:00") == datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
    assert parse_local("not a time") is None and parse_local("") is None


def test_participants_by_level_and_subtree(app):
    t = make_tree()
    everything = select_sites([t["P"].id])
    assert len(everything) == 7 and everything[0].id == t["P"].id
    # "the province, all districts, and the communes of one district"
    chosen = select_sites([t["P"].id], ["province", "district", "commune"], [t["D1"].id])
    assert {s.id for s in chosen} == {t[c].id for c in ("P", "D1", "D2", "C11", "C12")}
    assert {s.id for s in select_sites([t["P"].id], ["commune"])} == {t[c].id for c in ("C11", "C12", "C21", "C22")}


def test_site_conflict_names_the_other_event(app, make_user):
    t = make_tree()
    tech = make_user("technician")
    start = future(40)
    first = create_event(tech, conference(t, start, title="Học tập Nghị quyết 57"))[0]
    with pytest.raises(ConflictError) as info:
        create_event(tech, EventInput(kind="conference", title="Khác", starts_at=start + timedelta(hours=1),
                                      ends_at=start + timedelta(hours=3), host_site_id=t["D2"].id,
                                      site_ids=[t["C11"].id, t["C21"].id]))
    conflicts = info.value.conflicts
    assert [(c.kind, c.event_id, c.event_title) for c in conflicts] == [("site", first.id, "Học tập Nghị quyết 57")]
    assert conflicts[0].subject == t["C11"].name
    # back to back is fine, other sites at the same time are fine
    create_event(tech, conference(t, start + timedelta(hours=2), title="Ngay sau"))
    create_event(tech, EventInput(kind="conference", title="Song song", starts_at=start,
                                  ends_at=start + timedelta(hours=2), host_site_id=t["D2"].id,
                                  site_ids=[t["C21"].id, t["C22"].id]))
    # the host site counts as booked too
    with pytest.raises(ConflictError):
        create_event(tech, EventInput(kind="conference", title="Host", starts_at=start,
                                      ends_at=start + timedelta(hours=1), host_site_id=t["P"].id, site_ids=[]))


def test_cancelled_and_ended_events_free_their_sites(app, make_user):
    t = make_tree()
    tech = make_user("technician")
    start = future(41)
    first = create_event(tech, conference(t, start))[0]
    cancel_event(first, tech)
    second = create_event(tech, conference(t, start))[0]
    second.status = EventStatus.ENDED.value
    db.session.commit()
    create_event(tech, conference(t, start))


def test_studio_and_speaker_conflicts(app, make_user):
    t = make_tree()
    tech, speaker = make_user("technician"), make_user("speaker")
    start = future(42, 14)

    def report(studio, who, offset=0):
        return EventInput(kind="report", title="Báo cáo", starts_at=start + timedelta(minutes=offset),
                          ends_at=start + timedelta(minutes=offset + 60), speaker_id=who.id,
                          studio_site_id=t[studio].id)
    first = create_event(tech, report("D1", speaker))[0]
    with pytest.raises(ConflictError) as info:
        create_event(tech, report("D1", make_user("speaker"), 30))
    assert [(c.kind, c.event_id) for c in info.value.conflicts] == [("studio", first.id)]
    with pytest.raises(ConflictError) as info:
        create_event(tech, report("D2", speaker, 30))
    assert [(c.kind, c.event_id) for c in info.value.conflicts] == [("speaker", first.id)]
    # a conference over the studio site is refused as well
    with pytest.raises(ConflictError):
        create_event(tech, conference(t, start, sites=("D1",)))


def test_only_an_admin_overrides_and_it_is_logged(app, make_user):
    t = make_tree()
    tech, admin = make_user("technician"), make_user("admin")
    start = future(43)
    first = create_event(tech, conference(t, start))[0]
    with pytest.raises(ConflictError):
        create_event(tech, conference(t, start), override=True)
    second = create_event(admin, conference(t, start, title="Ghi đè"), override=True)[0]
    log = db.session.execute(db.select(AuditLog).filter_by(action="event.conflict_override", target_id=second.id)
                             ).scalar_one()
    assert log.user_id == admin.id and log.detail["conflicts"][0]["event_id"] == first.id
    # adding one site by hand follows the same rule
    other = create_event(tech, EventInput(kind="conference", title="Cùng giờ", starts_at=start,
                                          ends_at=start + timedelta(hours=2), host_site_id=t["D2"].id,
                                          site_ids=[t["C21"].id]))[0]
    with pytest.raises(ConflictError):
        add_participant(other, t["C11"], tech)
    add_participant(other, t["C11"], admin, override=True)
    assert db.session.execute(db.select(Participation).filter_by(event_id=other.id, site_id=t["C11"].id)
                              ).scalar_one()


@pytest.mark.parametrize("change, code", [
    (lambda d: setattr(d, "ends_at", d.starts_at - timedelta(minutes=1)), "end_before_start"),
    (lambda d: setattr(d, "ends_at", d.starts_at), "end_before_start"),
    (lambda d: (setattr(d, "starts_at", datetime.now(UTC) - timedelta(days=1)),
                setattr(d, "ends_at", datetime.now(UTC) - timedelta(hours=22))), "in_past"),
    (lambda d: setattr(d, "ends_at", d.starts_at + timedelta(hours=30)), "too_long"),
    (lambda d: setattr(d, "title", "  "), "title_required"),
    (lambda d: setattr(d, "host_site_id", None), "host_required"),
    (lambda d: setattr(d, "site_ids", [-5]), "unknown_site"),
    (lambda d: setattr(d, "monthly_count", 40), "bad_recurrence"),
])
def test_bad_times_and_fields_are_refused_and_nothing_is_saved(app, make_user, change, code):
    t = make_tree()
    data = conference(t, future(44))
    change(data)
    before = db.session.execute(db.select(db.func.count(Participation.id))).scalar_one()
    with pytest.raises(SchedulingError) as info:
        create_event(make_user("technician"), data)
    db.session.rollback()
    assert info.value.code == code
    assert db.session.execute(db.select(db.func.count(Participation.id))).scalar_one() == before


def test_monthly_recurrence_keeps_the_local_time(app, make_user):
    t = make_tree()
    tech = make_user("technician")
    start = future(45, 9)
    events = create_event(tech, conference(t, start, monthly_count=3, title="Giao ban báo chí"))
    assert len(events) == 3
    assert events[0].recurrence == "FREQ=MONTHLY;COUNT=3"
    assert all(e.recurrence_parent_id == events[0].id for e in events[1:])
    local = [e.starts_at.astimezone(TZ) for e in events]
    assert all(x.hour == 9 and x.minute == 0 for x in local)
    assert [(x.month - local[0].month) % 12 for x in local] == [0, 1, 2]
    for e in events:
        assert db.session.execute(db.select(db.func.count()).where(Participation.event_id == e.id)).scalar_one() == 3


def test_a_conflict_on_a_later_occurrence_saves_no_occurrence(app, make_user):
    t = make_tree()
    tech = make_user("technician")
    start = future(46, 9)
    third = occurrences(start, 3)[2]
    later = create_event(tech, conference(t, third + timedelta(hours=1), hours=1, sites=("C12",)))[0]
    count_before = db.session.execute(db.select(db.func.count()).select_from(Participation)).scalar_one()
    with pytest.raises(ConflictError) as info:
        create_event(tech, conference(t, start, monthly_count=4, sites=("C12",)))
    db.session.rollback()
    assert info.value.conflicts[0].event_id == later.id and info.value.occurrence is not None
    assert db.session.execute(db.select(db.func.count()).select_from(Participation)).scalar_one() == count_before


def test_update_checks_conflicts_but_not_against_itself(app, make_user):
    t = make_tree()
    tech = make_user("technician")
    start = future(47)
    event = create_event(tech, conference(t, start))[0]
    data = conference(t, start + timedelta(minutes=30), sites=("P", "D1", "C11", "C12"), title="Dời giờ")
    update_event(event, tech, data)
    db.session.expire_all()
    assert event.title == "Dời giờ" and len(select_sites([t["D1"].id])) == 3
    assert db.session.execute(db.select(db.func.count()).where(Participation.event_id == event.id)).scalar_one() == 4
    other = create_event(tech, conference(t, start + timedelta(hours=5), sites=("C21",)))[0]
    with pytest.raises(ConflictError):
        update_event(other, tech, conference(t, start, sites=("C21", "C12")))
