"""YouTube adapter against a loopback fake of the Data API v3 resumable upload protocol, through the
real fan-out (approve → RQ job on the publish queue → worker)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Channel, Publication
from orchestrator.publishing.service import Choice, approve, reconcile_publications, run_publication
from orchestrator.secrets import decrypt
from tests.conftest import run_worker_burst
from tests.publishing.fakes import FakeYouTube

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def youtube():
    with FakeYouTube() as fake:
        yield fake


@pytest.fixture
def yt_channel(make_channel, youtube):
    return make_channel("youtube", {"api_base": youtube.url, "token_uri": f"{youtube.url}/token", "chunk_kib": 256},
                        {"client_id": "cid.apps.googleusercontent.com", "client_secret": "GOCSPX-secret-value",
                         "refresh_token": FakeYouTube.REFRESH_TOKEN})


def _publication(pub_id: int) -> Publication:
    db.session.expire_all()
    return db.session.get(Publication, pub_id)


def test_resumable_upload_survives_a_503_midway_and_adds_captions_and_thumbnail(
        app, youtube, yt_channel, make_recording, small_mp4, publish_queue, caplog):
    caplog.set_level(logging.DEBUG)
    rec = make_recording(small_mp4)
    youtube.fail_puts = {3}  # the third chunk: half of it is kept, then 503
    [pub] = approve(rec, [Choice(yt_channel.id, title="Báo cáo chuyên đề", description="Mô tả", privacy="unlisted")],
                    None)
    run_worker_burst(app, ["publish"])

    pub = _publication(pub.id)
    assert pub.status == "published", (pub.error_code, pub.error)
    assert len(youtube.videos) == 1
    video = youtube.videos[pub.external_id]
    assert pub.external_url == f"https://www.youtube.com/watch?v={pub.external_id}"
    assert video["snippet"]["title"] == "Báo cáo chuyên đề" and video["status"]["privacyStatus"] == "unlisted"
    # The client asked where the upload stood (bytes */size → 308 + Range) and went on from there:
    # the bytes on the server are exactly the file, and nothing was sent twice but the lost half chunk.
    session = next(iter(youtube.sessions.values()))
    assert bytes(session["data"]) == small_mp4.read_bytes()
    assert youtube.status_queries == 1
    assert youtube.bytes_received == small_mp4.stat().st_size
    [caption] = youtube.captions.values()
    assert caption["snippet"]["language"] == "vi" and "Xin chào" in caption["body"]
    assert youtube.thumbnails[pub.external_id][:2] == b"\xff\xd8"  # a JPEG
    # The refreshed access token is stored encrypted, never in clear, never logged.
    channel = db.session.get(Channel, yt_channel.id)
    stored = decrypt(channel.credentials_encrypted)
    assert stored["access_token"] in youtube.tokens
    assert stored["access_token"] not in channel.credentials_encrypted
    for secret in (stored["access_token"], "GOCSPX-secret-value", FakeYouTube.REFRESH_TOKEN):
        assert secret not in caplog.text


def test_rerun_and_reapproval_confirm_instead_of_posting_twice(app, youtube, yt_channel, make_recording, small_mp4,
                                                               publish_queue):
    rec = make_recording(small_mp4)
    [pub] = approve(rec, [Choice(yt_channel.id, title="Một lần thôi")], None)
    run_worker_burst(app, ["publish"])
    assert _publication(pub.id).status == "published"
    uploads = youtube.calls("POST", r"^/upload/youtube/v3/videos$")

    approve(rec, [Choice(yt_channel.id, title="Một lần thôi")], None)  # approved again
    run_publication(pub.id)                                             # a duplicated job
    run_worker_burst(app, ["publish"])
    assert len(youtube.videos) == 1 and youtube.calls("POST", r"^/upload/youtube/v3/videos$") == uploads

    # A crash after captions.insert but before it was recorded: the retry lists captions and adds none.
    pub = _publication(pub.id)
    pub.status, pub.remote_state = "failed", {k: v for k, v in pub.remote_state.items() if k != "captions"}
    db.session.commit()
    run_publication(pub.id)
    assert _publication(pub.id).status == "published"
    assert len(youtube.captions) == 1 and len(youtube.videos) == 1


def test_quota_and_revoked_token_are_reported_per_channel(app, youtube, yt_channel, make_channel, make_recording,
                                                          small_mp4, publish_queue):
    rec = make_recording(small_mp4)
    youtube.quota_exceeded = True
    [pub] = approve(rec, [Choice(yt_channel.id, title="Hết hạn mức")], None)
    run_worker_burst(app, ["publish"])
    pub = _publication(pub.id)
    assert (pub.status, pub.error_code) == ("failed", "quota") and not youtube.videos

    revoked = make_channel("youtube", {"api_base": youtube.url, "token_uri": f"{youtube.url}/token"},
                           {"client_id": "c", "client_secret": "s", "refresh_token": "revoked"})
    [pub2] = approve(rec, [Choice(revoked.id, title="Token hỏng")], None)
    run_worker_burst(app, ["publish"])
    pub2 = _publication(pub2.id)
    assert (pub2.status, pub2.error_code) == ("failed", "expired_token")


def test_unpublish_deletes_the_video(app, youtube, yt_channel, make_recording, small_mp4, publish_queue):
    from orchestrator.publishing.service import unpublish

    rec = make_recording(small_mp4)
    [pub] = approve(rec, [Choice(yt_channel.id, title="Gỡ xuống")], None)
    run_worker_burst(app, ["publish"])
    assert len(youtube.videos) == 1
    assert unpublish(_publication(pub.id), None)
    run_worker_burst(app, ["publish"])
    pub = _publication(pub.id)
    assert pub.status == "unpublished" and not youtube.videos and pub.remote_state == {}


def test_worker_killed_mid_upload_then_retry_gives_exactly_one_video(
        app, test_env, youtube, yt_channel, make_recording, large_mp4, publish_queue):
    """SIGKILL the real worker process in the middle of the upload; the retry resumes the same session."""
    rec = make_recording(large_mp4)
    size = large_mp4.stat().st_size
    youtube.put_delay_s = 0.15
    [pub] = approve(rec, [Choice(yt_channel.id, title="Không đăng hai lần")], None)
    env = {**os.environ, **test_env, "DIEMCAU_PUBLISH_LEASE_S": "3"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("diemcau")), "worker", "publish", "--in-process",
                             "--burst"], cwd=REPO_ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while youtube.bytes_received < 3 * 256 * 1024:
            assert proc.poll() is None, "the worker ended before the upload started"
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    youtube.put_delay_s = 0.0
    assert 0 < youtube.bytes_received < size and not youtube.videos
    pub = _publication(pub.id)
    assert pub.status == "uploading" and pub.remote_state.get("upload_uri")

    # The lease of the dead worker runs out; the reconciler (or the retry button) enqueues it again.
    lease_key = f"diemcau:publication:{pub.id}"
    deadline = time.monotonic() + 10
    while core.redis_connection().exists(lease_key):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert reconcile_publications() == [pub.id]
    run_worker_burst(app, ["publish"])

    pub = _publication(pub.id)
    assert pub.status == "published", (pub.error_code, pub.error)
    assert len(youtube.videos) == 1 and len(youtube.sessions) == 1
    assert bytes(next(iter(youtube.sessions.values()))["data"]) == large_mp4.read_bytes()
    # Resumed from the Range the session reported: every byte reached the server exactly once.
    assert youtube.status_queries >= 1
    assert youtube.bytes_received == size
