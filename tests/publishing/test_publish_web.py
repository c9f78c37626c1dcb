"""The editor's approval page and the admin's channel page through HTTP: roles, one approval fanning out
to several channels, status/error/retry/unpublish per channel, write-only encrypted credentials."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestrator.db import db
from orchestrator.models import AuditLog, Channel, Publication
from orchestrator.secrets import decrypt
from orchestrator.seed import portal_channel
from tests.conftest import login, run_worker_burst
from tests.publishing.fakes import FakeYouTube


@pytest.fixture
def youtube():
    with FakeYouTube() as fake:
        yield fake


def _yt(make_channel, fake, **fields):
    return make_channel("youtube", {"api_base": fake.url, "token_uri": f"{fake.url}/token", "chunk_kib": 512},
                        {"client_id": "cid", "client_secret": "csecret-1234567890",
                         "refresh_token": FakeYouTube.REFRESH_TOKEN}, **fields)


@pytest.mark.parametrize("role", ["speaker", "technician"])
def test_only_editors_publish(app, make_user, make_recording, small_mp4, role):
    rec = make_recording(small_mp4)
    client = app.test_client()
    assert client.get(f"/panel/recordings/{rec.id}/publish").status_code == 302   # anonymous → login
    token = login(client, make_user(role))
    assert client.get(f"/panel/recordings/{rec.id}/publish").status_code == 403
    assert client.post(f"/panel/recordings/{rec.id}/publish", data={"csrf_token": token,
                                                                    "channel": "1"}).status_code == 403
    pub = Publication(recording_id=rec.id, channel_id=portal_channel().id, idempotency_key=f"t:{rec.id}",
                      status="failed")
    db.session.add(pub)
    db.session.commit()
    for action in ("retry", "unpublish"):
        assert client.post(f"/panel/publications/{pub.id}/{action}", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/panel/recordings/{rec.id}/publications.json").status_code == 403
    assert client.get("/admin/channels/").status_code == 403
    assert db.session.get(Publication, pub.id).status == "failed"


def test_one_approval_fans_out_with_status_retry_and_unpublish(app, make_user, make_recording, make_channel,
                                                               small_mp4, youtube, publish_queue):
    rec = make_recording(small_mp4, title="Hội nghị quý IV")
    yt = _yt(make_channel, youtube)
    portal = portal_channel()
    client = app.test_client()
    token = login(client, make_user("editor"))
    page = client.get(f"/panel/recordings/{rec.id}/publish").get_data(as_text=True)
    assert 'value="Hội nghị quý IV"' in page and yt.name in page and "16:9" in page
    youtube.quota_exceeded = True
    response = client.post(f"/panel/recordings/{rec.id}/publish", data={
        "csrf_token": token, "channel": [str(portal.id), str(yt.id)],
        f"title_{portal.id}": "Hội nghị quý IV", f"download_{portal.id}": "1",
        f"title_{yt.id}": "Hội nghị quý IV (YouTube)", f"description_{yt.id}": "Toàn văn",
        f"privacy_{yt.id}": "unlisted"})
    assert response.status_code == 302
    run_worker_burst(app, ["publish"])
    db.session.expire_all()
    pubs = {p.channel.kind: p for p in db.session.execute(
        db.select(Publication).filter_by(recording_id=rec.id)).scalars()}
    assert pubs["portal"].status == "published" and (pubs["portal"].options or {}).get("allow_download")
    assert (pubs["youtube"].status, pubs["youtube"].error_code) == ("failed", "quota")
    # The page says why, in Vietnamese, and offers a retry.
    page = client.get(f"/panel/recordings/{rec.id}/publish").get_data(as_text=True)
    assert "hạn mức" in page and f'id="retry-{pubs["youtube"].id}"' in page
    status = client.get(f"/panel/recordings/{rec.id}/publications.json").get_json()["publications"]
    assert {p["kind"]: p["can_retry"] for p in status} == {"portal": False, "youtube": True}

    youtube.quota_exceeded = False
    assert client.post(f"/panel/publications/{pubs['youtube'].id}/retry", data={"csrf_token": token}).status_code == 302
    run_worker_burst(app, ["publish"])
    db.session.expire_all()
    yt_pub = db.session.get(Publication, pubs["youtube"].id)
    assert yt_pub.status == "published" and len(youtube.videos) == 1
    assert youtube.videos[yt_pub.external_id]["snippet"]["title"] == "Hội nghị quý IV (YouTube)"
    page = client.get(f"/panel/recordings/{rec.id}/publish").get_data(as_text=True)
    assert yt_pub.external_url in page

    # Approving again never posts twice; unpublishing removes the video.
    client.post(f"/panel/recordings/{rec.id}/publish", data={"csrf_token": token, "channel": [str(yt.id)]})
    run_worker_burst(app, ["publish"])
    assert len(youtube.videos) == 1
    client.post(f"/panel/publications/{yt_pub.id}/unpublish", data={"csrf_token": token})
    run_worker_burst(app, ["publish"])
    db.session.expire_all()
    assert db.session.get(Publication, yt_pub.id).status == "unpublished" and not youtube.videos
    actions = {a.action for a in db.session.execute(db.select(AuditLog)).scalars()}
    assert {"publication.approve", "publication.retry", "publication.unpublish"} <= actions


def test_token_expiry_is_warned_before_it_breaks_a_publish(app, make_user, make_recording, make_channel, small_mp4,
                                                           youtube, publish_queue):
    rec = make_recording(small_mp4)
    soon = _yt(make_channel, youtube, credentials_expire_at=datetime.now(UTC) + timedelta(days=3))
    expired = _yt(make_channel, youtube, credentials_expire_at=datetime.now(UTC) - timedelta(hours=1))
    client = app.test_client()
    token = login(client, make_user("editor"))
    page = client.get(f"/panel/recordings/{rec.id}/publish").get_data(as_text=True)
    assert f"“{soon.name}”" in page and f"“{expired.name}”" in page and "đã hết hạn" in page
    client.post(f"/panel/recordings/{rec.id}/publish", data={"csrf_token": token, "channel": [str(expired.id)]})
    db.session.expire_all()
    pub = db.session.execute(db.select(Publication).filter_by(channel_id=expired.id)).scalar_one()
    assert (pub.status, pub.error_code, pub.rq_job_id) == ("failed", "expired_token", None)
    assert not youtube.log   # nothing was even tried


def test_admin_credentials_are_write_only_and_encrypted(app, make_user, youtube):
    client = app.test_client()
    token = login(client, make_user("admin"))
    response = client.post("/admin/channels/new/youtube", data={
        "csrf_token": token, "name": "Kênh YouTube Ban", "enabled": "1", "setting_privacy": "public",
        "setting_api_base": youtube.url, "setting_token_uri": f"{youtube.url}/token",
        "secret_client_id": "my-client-id.apps", "secret_client_secret": "GOCSPX-very-secret-9876",
        "secret_refresh_token": FakeYouTube.REFRESH_TOKEN, "credentials_expire_at": "2030-01-31"})
    assert response.status_code == 302
    channel_id = int(re.search(r"/admin/channels/(\d+)", response.headers["Location"]).group(1))
    page = client.get(f"/admin/channels/{channel_id}").get_data(as_text=True)
    assert "GOCSPX-very-secret-9876" not in page and "••••9876" in page
    channel = db.session.get(Channel, channel_id)
    assert "GOCSPX" not in channel.credentials_encrypted and "very-secret" not in str(channel.settings)
    # Saving with the secret fields left empty keeps them.
    client.post(f"/admin/channels/{channel_id}", data={"csrf_token": token, "name": "Kênh YouTube", "enabled": "1",
                                                      "setting_api_base": youtube.url,
                                                      "setting_token_uri": f"{youtube.url}/token"})
    db.session.expire_all()
    channel = db.session.get(Channel, channel_id)
    assert decrypt(channel.credentials_encrypted)["client_secret"] == "GOCSPX-very-secret-9876"
    assert channel.name == "Kênh YouTube"
    # "Test the connection" calls the channel with the stored credentials.
    client.post(f"/admin/channels/{channel_id}/check", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Channel, channel_id).last_check["ok"] is True
    log = db.session.execute(db.select(AuditLog).filter_by(action="channel.save")).scalars().first()
    assert "GOCSPX" not in str(log.detail)


def test_scheduled_publication_waits_in_the_rq_scheduler(app, make_user, make_recording, small_mp4, publish_queue):
    from rq.job import Job, JobStatus

    from orchestrator import core

    rec = make_recording(small_mp4)
    portal = portal_channel()
    client = app.test_client()
    token = login(client, make_user("editor"))
    local = (datetime.now(UTC) + timedelta(days=1)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    client.post(f"/panel/recordings/{rec.id}/publish", data={
        "csrf_token": token, "channel": [str(portal.id)], f"schedule_{portal.id}": local.strftime("%Y-%m-%dT%H:%M")})
    db.session.expire_all()
    pub = db.session.execute(db.select(Publication).filter_by(recording_id=rec.id)).scalar_one()
    assert pub.status == "scheduled"
    assert abs((pub.scheduled_at.astimezone(UTC) - local.astimezone(UTC)).total_seconds()) < 60
    job = Job.fetch(pub.rq_job_id, connection=core.redis_connection())
    assert job.get_status() == JobStatus.SCHEDULED
    run_worker_burst(app, ["publish"])          # not due: nothing runs
    db.session.expire_all()
    assert db.session.get(Publication, pub.id).status == "scheduled"
    bad = client.post(f"/panel/recordings/{rec.id}/publish", data={
        "csrf_token": token, "channel": [str(portal.id)], f"schedule_{portal.id}": "ngày mai"}, follow_redirects=True)
    assert "ngày và giờ" in bad.get_data(as_text=True)
