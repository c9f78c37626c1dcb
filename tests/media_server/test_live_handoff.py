"""The panel side of the recording hand-off: POST /internal/events/<id>/recording (docs/live-contract.md)."""
from __future__ import annotations

from pathlib import Path

from groundwork.tokens import sign
from orchestrator.db import db
from orchestrator.models import Event, Recording
from tests.media_helpers import make_video


def _event(confidential: bool = False) -> Event:
    event = Event(kind="conference", title="Hội nghị", status="ended", confidential=confidential)
    db.session.add(event)
    db.session.commit()
    return event


def test_handoff_registers_the_recording_once_and_starts_the_pipeline(client, app, tmp_path):
    from orchestrator import core

    event = _event()
    key = f"live/{event.id}/master-20260101T000000.mkv"
    clip = make_video(tmp_path / "master.mkv", duration=2, width=320, height=180, fps=25)
    core.storage().put_file(key, Path(clip))
    secret = app.config["SECRET_KEY"]
    headers = {"X-Diemcau-Internal": sign("host", event.id, 0, 1, secret=secret)}
    url = f"/internal/events/{event.id}/recording"

    first = client.post(url, json={"storage_key": key, "duration_s": 2.0}, headers=headers)
    assert first.status_code == 201, first.json
    again = client.post(url, json={"storage_key": key, "duration_s": 2.0}, headers=headers)  # a retried hand-off
    assert again.status_code == 200 and again.json["recording_id"] == first.json["recording_id"]
    db.session.expire_all()
    recording = db.session.get(Recording, first.json["recording_id"])
    assert recording.event_id == event.id and recording.source_key == key and recording.size_bytes > 0
    assert recording.event.status == "processing"
    assert [s.stage for s in recording.stages] == ["probe", "transcode", "transcribe", "publish"]
    assert recording.stages[0].status == "queued" and recording.stages[0].rq_job_id

    bad = [
        ({}, {"storage_key": key}, 401, "token_invalid"),
        ({"X-Diemcau-Internal": sign("site", event.id, 3, 1, secret=secret)}, {"storage_key": key}, 403,
         "token_wrong_kind"),
        ({"X-Diemcau-Internal": sign("host", event.id + 1, 0, 1, secret=secret)}, {"storage_key": key}, 403,
         "token_wrong_kind"),
        (headers, {"storage_key": f"live/{event.id}/../../etc/passwd"}, 400, "bad_storage_key"),
        (headers, {"storage_key": f"live/{event.id + 1}/master-1.mkv"}, 400, "bad_storage_key"),
        (headers, {"storage_key": f"live/{event.id}/master-missing.mkv"}, 400, "missing_file"),
        (headers, {"duration_s": 3}, 400, "bad_request"),
        (headers, {"storage_key": key, "duration_s": -1}, 400, "bad_request"),
    ]
    for hdrs, body, status, code in bad:
        response = client.post(url, json=body, headers=hdrs)
        assert response.status_code == status and response.json["error"] == code, (code, response.json)


def test_handoff_refuses_a_confidential_event(client, app):
    event = _event(confidential=True)
    token = sign("host", event.id, 0, 1, secret=app.config["SECRET_KEY"])
    response = client.post(f"/internal/events/{event.id}/recording",
                           json={"storage_key": f"live/{event.id}/master-1.mkv"}, headers={"X-Diemcau-Internal": token})
    assert response.status_code == 409 and response.json["error"] == "confidential"
    assert db.session.execute(db.select(Recording).filter_by(event_id=event.id)).first() is None
