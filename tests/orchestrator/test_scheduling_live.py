"""Join tokens (signing, expiry, revocation, another site's or event's link), the live state in Redis per
docs/live-contract.md, site reports and attendance, and confidential events enforced server-side."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from groundwork import tokens
from orchestrator import core
from orchestrator.db import db
from orchestrator.invitations import JoinError, check_join, join_token, revoke
from orchestrator.live import (
    LiveError,
    persist_site_states,
    recording_allowed,
    report_state,
    set_attendance,
    start_event,
    stop_event,
    wall_snapshot,
)
from orchestrator.models import EventStatus
from orchestrator.scheduling import EventInput, Participation, create_event, participations
from tests.orchestrator.test_scheduling_rules import future, make_tree


def make_event(make_user, confidential=False, sites=("P", "D1", "C11", "C12")):
    t = make_tree()
    tech = make_user("technician")
    start = future(60 + int(time.time() * 1000) % 200)
    event = create_event(tech, EventInput(kind="conference", title="Phiên họp", starts_at=start,
                                          ends_at=start + timedelta(hours=2), host_site_id=t["P"].id,
                                          site_ids=[t[c].id for c in sites], confidential=confidential))[0]
    return event, t, tech


def next_message(pubsub, timeout: float = 3.0) -> dict:
    """The next published message (get_message answers None for the ignored subscribe confirmation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            return json.loads(message["data"])
    raise AssertionError("no message published")


def part(event, site) -> Participation:
    return db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=site.id)).scalar_one()


def test_join_token_opens_only_its_own_site_and_event(app, make_user):
    event, t, _tech = make_event(make_user)
    p = part(event, t["C11"])
    token = join_token(p)
    grant = check_join(token, event_id=event.id, site_id=t["C11"].id)
    assert (grant.event.id, grant.site.id) == (event.id, t["C11"].id)
    with pytest.raises(JoinError) as info:
        check_join(token, event_id=event.id, site_id=t["C12"].id)
    assert info.value.code == "other_site" and info.value.params["site"] == t["C11"].name
    with pytest.raises(JoinError) as info:
        check_join(token, event_id=event.id + 1000, site_id=t["C11"].id)
    assert info.value.code == "other_event"
    with pytest.raises(JoinError) as info:
        check_join(token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"))
    assert info.value.code == "invalid"
    with pytest.raises(JoinError) as info:
        check_join(tokens.sign("host", event.id, 0, 1, secret=core.token_secret()))
    assert info.value.code == "wrong_kind"
    with pytest.raises(JoinError) as info:  # a site that is not (or no longer) invited
        check_join(tokens.sign("site", event.id, t["D2"].id, 1, secret=core.token_secret()))
    assert info.value.code == "not_invited"


def test_expired_tokens_and_events_long_over(app, make_user, monkeypatch):
    event, t, _tech = make_event(make_user)
    token = join_token(part(event, t["C11"]))
    monkeypatch.setattr("orchestrator.invitations.JOIN_MAX_AGE_S", -1)
    with pytest.raises(JoinError) as info:
        check_join(token)
    assert info.value.code == "expired"
    monkeypatch.undo()
    event.starts_at = datetime.now(UTC) - timedelta(days=3)
    event.ends_at = event.starts_at + timedelta(hours=2)
    db.session.commit()
    with pytest.raises(JoinError) as info:
        check_join(token)
    assert info.value.code == "expired"


def test_revocation_invalidates_the_old_link_everywhere(app, make_user):
    event, t, tech = make_event(make_user)
    p = part(event, t["C12"])
    old = join_token(p)
    pubsub = core.redis_connection().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("diemcau:events")
    new = revoke(p, tech)
    with pytest.raises(JoinError) as info:
        check_join(old)
    assert info.value.code == "revoked"
    assert check_join(new).participation.token_version == 2
    r = core.redis_connection()
    assert r.hget(f"diemcau:event:{event.id}:token_versions", f"site:{t['C12'].id}") == b"2"
    assert next_message(pubsub) == {"event_id": event.id, "type": "revoked", "kind": "site",
                                           "subject_id": t["C12"].id, "version": 2}
    pubsub.close()


def test_start_and_stop_write_the_contract_state(app, make_user):
    event, t, tech = make_event(make_user)
    r = core.redis_connection()
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("diemcau:events")
    start_event(event, tech)
    assert event.status == EventStatus.LIVE.value
    state = r.hgetall(f"diemcau:event:{event.id}")
    assert state[b"status"] == b"live" and state[b"confidential"] == b"0" and state[b"floor"] == b"host"
    assert state[b"title"].decode() == "Phiên họp"
    versions = r.hgetall(f"diemcau:event:{event.id}:token_versions")
    assert versions[b"host:0"] == b"1" and versions[f"site:{t['C11'].id}".encode()] == b"1"
    assert len(versions) == 5
    assert next_message(pubsub)["type"] == "started"
    start_event(event, tech)  # starting a live event again changes nothing
    stop_event(event, tech)
    assert event.status == EventStatus.ENDED.value
    for again in (start_event, stop_event):
        with pytest.raises(LiveError):
            again(event, tech)
    assert r.hget(f"diemcau:event:{event.id}", "status") == b"ended"
    assert next_message(pubsub)["type"] == "stopped"
    pubsub.close()


def test_reports_go_to_redis_and_the_wall(app, make_user):
    event, t, tech = make_event(make_user)
    r = core.redis_connection()
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"diemcau:wall:{event.id}")
    start_event(event, tech)
    report_state(event.id, t["C11"].id, {"state": "joined", "rtt_ms": 42})
    message = next_message(pubsub)
    assert message["site_id"] == t["C11"].id and message["state"] == "joined" and message["rtt_ms"] == 42
    assert abs(message["ts"] - time.time()) < 5
    db.session.expire_all()
    assert part(event, t["C11"]).joined_at is not None  # the first report is kept in the database
    for bad in ({"state": "flying"}, {"state": "joined", "rtt_ms": -1}, {"state": "joined", "loss_pct": "x"},
                {"state": "joined", "loss_pct": float("nan")}):
        with pytest.raises(LiveError):
            report_state(event.id, t["C11"].id, bad)
    snapshot = wall_snapshot(event)
    tiles = {tile["site_id"]: tile for tile in snapshot["tiles"]}
    assert tiles[t["C11"].id]["state"] == "joined" and tiles[t["C12"].id]["state"] == "not_joined"
    assert snapshot["totals"]["connected"] == 1 and snapshot["totals"]["sites"] == 4
    # A site silent for longer than STALE_S shows as dropped.
    key = f"diemcau:event:{event.id}:sites"
    stale = json.loads(r.hget(key, str(t["C11"].id)))
    stale["ts"] -= 60
    r.hset(key, str(t["C11"].id), json.dumps(stale))
    assert {x["site_id"]: x["state"] for x in wall_snapshot(event)["tiles"]}[t["C11"].id] == "dropped"
    stop_event(event, tech)
    db.session.expire_all()
    assert part(event, t["C11"]).state == "dropped" and part(event, t["C11"]).rtt_ms == 42
    pubsub.close()


def test_attendance_is_checked(app, make_user):
    event, t, _tech = make_event(make_user)
    p = part(event, t["C11"])
    p.site.capacity = 100
    db.session.commit()
    assert set_attendance(p, "85") == 85
    for value, code in (("-3", "attendance_negative"), ("201", "attendance_absurd"), ("abc", "attendance_not_number"),
                        ("", "attendance_not_number"), ("2.5", "attendance_not_number")):
        with pytest.raises(LiveError) as info:
            set_attendance(p, value)
        db.session.rollback()
        assert info.value.code == code
    db.session.expire_all()
    assert part(event, t["C11"]).attendance == 85
    persist_site_states(event)
    assert wall_snapshot(event)["totals"]["attendees"] == 85


def test_confidential_events_are_enforced(app, make_user, tmp_path):
    from orchestrator.models import Recording, StageRun
    from orchestrator.pipeline import STAGES, portal_publication, run_stage

    event, t, tech = make_event(make_user, confidential=True)
    start_event(event, tech)
    assert core.redis_connection().hget(f"diemcau:event:{event.id}", "confidential") == b"1"
    assert not recording_allowed(event)
    # Even if a recording reached the pipeline, transcription and publication skip it.
    rec = Recording(event_id=event.id, source_key="recordings/none/source.mp4", original_filename="x.mp4",
                    probe={"has_audio": True})
    db.session.add(rec)
    db.session.flush()
    for position, spec in enumerate(STAGES):
        db.session.add(StageRun(recording_id=rec.id, stage=spec.name, position=position))
    db.session.commit()
    for stage in ("transcribe", "publish"):
        run = run_stage(rec.id, stage, enqueue=False)
        assert run.status == "skipped" and run.result == {"reason": "confidential"}
    assert portal_publication(f"anything-{rec.id}") is None
    assert len(participations(event)) == 4
