"""Redis away (restarting, crashed): an upload is either complete, with its processing deferred to the
reconciler, or not created, and the user is told which; other pages answer a clear 503, never a 500."""
from __future__ import annotations

import socket

import pytest
from redis import Redis

from orchestrator.db import db
from orchestrator.models import Event, Recording, StageRun
from tests.conftest import login
from tests.media_helpers import make_video


@pytest.fixture
def tech(client, make_user):
    user = make_user("technician")
    return user, login(client, user)


@pytest.fixture
def redis_down(app, monkeypatch):
    """The web app's Redis points at a loopback port nobody listens on (as while Redis restarts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(app.extensions, "diemcau.redis", Redis(port=port, socket_connect_timeout=0.5))


def _recording_count() -> int:
    db.session.expire_all()
    return db.session.execute(db.select(db.func.count(Recording.id))).scalar_one()


def test_upload_while_redis_is_down_is_saved_and_the_reconciler_starts_it_later(client, tech, tmp_path, redis_down,
                                                                               app, monkeypatch):
    from orchestrator.reconcile import reconcile

    _, token = tech
    video = make_video(tmp_path / "v.mp4", duration=1.0, width=320, height=240)
    before = _recording_count()
    with open(video, "rb") as f:
        response = client.post("/panel/upload", data={"file": (f, "bao-cao.mp4"), "title": "Mất Redis",
                                                      "csrf_token": token},
                               headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 201, response.data[:500]
    body = response.get_json()
    assert body["queued"] is False
    assert "không cần tải lên lại" in body["message"]  # Vietnamese by default: saved, do not upload again
    assert _recording_count() == before + 1  # created once, never twice
    stages = {s.stage: s for s in db.session.get(Recording, body["id"]).stages}
    assert stages["transcode"].status == "pending" and stages["transcode"].rq_job_id is None
    # The recording page the browser goes to says the same.
    page = client.get(body["url"])
    assert "không cần tải lên lại" in page.get_data(as_text=True)

    monkeypatch.undo()  # Redis is back: the scheduler's next pass enqueues the waiting stage
    assert stages["transcode"].id in reconcile()["requeued"]
    db.session.expire_all()
    assert db.session.get(StageRun, stages["transcode"].id).status == "queued"


def test_a_page_that_needs_redis_answers_503_in_vietnamese_while_it_is_down(client, tech, redis_down):
    event = Event(kind="conference", title="Hội nghị trực tuyến")
    db.session.add(event)
    db.session.commit()
    response = client.get(f"/studio/events/{event.id}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "đang khởi động lại" in response.get_data(as_text=True)
    api = client.get(f"/studio/events/{event.id}", headers={"Accept": "application/json"})
    assert api.status_code == 503 and api.get_json()["error"] == "unavailable"
