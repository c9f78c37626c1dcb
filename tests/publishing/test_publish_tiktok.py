"""TikTok adapter against a loopback fake of the Content Posting API (direct post, FILE_UPLOAD)."""
from __future__ import annotations

import pytest

from orchestrator.db import db
from orchestrator.models import Channel, Publication
from orchestrator.publishing.base import JobContext, MediaFile, PublishError
from orchestrator.publishing.service import Choice, approve, build_adapter
from orchestrator.publishing.tiktok import MB, TikTokAdapter, chunk_ranges, plan_chunks
from orchestrator.secrets import decrypt
from tests.conftest import run_worker_burst
from tests.publishing.fakes import FakeTikTok


@pytest.fixture
def tiktok():
    with FakeTikTok() as fake:
        yield fake


def _adapter(fake: FakeTikTok, **settings) -> TikTokAdapter:
    return TikTokAdapter({"api_base": fake.url, "poll_interval_s": 0.01, "chunk_mb": 5, **settings},
                         {"client_key": "ck", "client_secret": "cs", "refresh_token": FakeTikTok.REFRESH_TOKEN})


def _ctx(video, state=None, progress=lambda p: None) -> JobContext:
    return JobContext(publication_id=1, idempotency_key="tiktok:1:recording:1", recording_id=1,
                      title="Đưa nghị quyết vào cuộc sống", description="#baocaovien", privacy="public",
                      video=MediaFile(video, video.stat().st_size, "video/mp4", "9:16", 3.0),
                      state=state if state is not None else {}, progress=progress)


@pytest.mark.parametrize("size, chunk, count", [
    (3 * MB, 3 * MB, 1),                 # under 5 MB: one whole chunk
    (12 * MB, 5 * MB, 2),                # the last chunk takes the trailing 2 MB (7 MB)
    (5 * MB, 5 * MB, 1),
    (700 * MB, 64 * MB, 10),             # capped at 64 MB; the last is 124 MB (< 128 MB)
])
def test_chunk_plan_follows_the_rules(size, chunk, count):
    assert plan_chunks(size, preferred=5 * MB if size < 100 * MB else 200 * MB) == (chunk, count)
    ranges = chunk_ranges(size, chunk, count)
    assert ranges[0][0] == 0 and ranges[-1][1] == size - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:], strict=False))


def test_direct_post_in_sequential_chunks_then_status_polling(app, tiktok, make_channel, make_recording, large_mp4,
                                                              small_mp4, publish_queue):
    size = large_mp4.stat().st_size
    assert size > 10 * MB
    channel = make_channel("tiktok", {"api_base": tiktok.url, "chunk_mb": 5},
                           {"client_key": "ck", "client_secret": "cs", "refresh_token": FakeTikTok.REFRESH_TOKEN})
    # The 9:16 social cut is TikTok's default rendition when there is one.
    rec = make_recording(small_mp4, social=large_mp4)
    [pub] = approve(rec, [Choice(channel.id, title="Báo cáo viên nói về nghị quyết")], None)
    run_worker_burst(app, ["publish"])
    db.session.expire_all()
    pub = db.session.get(Publication, pub.id)
    assert pub.status == "published", (pub.error_code, pub.error)
    [post] = tiktok.posts
    assert post["size"] == size
    [upload] = tiktok.uploads.values()
    assert upload["count"] == size // (5 * MB) and bytes(upload["data"]) == large_mp4.read_bytes()
    assert pub.external_url == f"https://www.tiktok.com/@bantuyengiao/video/{pub.external_id}"
    assert tiktok.calls("PUT", "^/upload/") == upload["count"]
    # The refresh token's expiry (refresh_expires_in) drives the channel's expiry warning.
    channel = db.session.get(Channel, channel.id)
    assert channel.credentials_expire_at is not None
    assert decrypt(channel.credentials_encrypted)["access_token"] in tiktok.tokens


def test_small_video_goes_in_one_chunk(tiktok, small_mp4):
    ref = _adapter(tiktok).publish(_ctx(small_mp4))
    [upload] = tiktok.uploads.values()
    assert (upload["count"], upload["chunk"]) == (1, small_mp4.stat().st_size)
    assert ref.status == "published" and len(tiktok.posts) == 1


class Killed(Exception):
    """Stands for the worker dying at this point."""


def test_crash_mid_upload_then_retry_posts_once(tiktok, large_mp4):
    state: dict = {}

    def die_after_first_chunk(percent):
        raise Killed()
    with pytest.raises(Killed):
        _adapter(tiktok).publish(_ctx(large_mp4, state, progress=die_after_first_chunk))
    assert state["publish_id"] and not state["uploaded"] and not tiktok.posts
    ref = _adapter(tiktok).publish(_ctx(large_mp4, state))
    assert ref.status == "published" and len(tiktok.posts) == 1
    assert tiktok.posts[0]["publish_id"] == state["publish_id"]


def test_crash_after_the_last_chunk_confirms_instead_of_uploading_again(tiktok, large_mp4):
    state: dict = {}

    def die_at_end(percent):
        if percent >= 90:
            raise Killed()
    with pytest.raises(Killed):
        _adapter(tiktok).publish(_ctx(large_mp4, state, progress=die_at_end))
    inits = tiktok.calls("POST", "video/init")
    ref = _adapter(tiktok).publish(_ctx(large_mp4, state))
    assert ref.status == "published" and len(tiktok.posts) == 1
    assert tiktok.calls("POST", "video/init") == inits
    assert tiktok.calls("PUT", "^/upload/") == large_mp4.stat().st_size // (5 * MB)


def test_account_limits_become_clear_errors(tiktok, small_mp4):
    tiktok.privacy_options = ["SELF_ONLY"]   # an unaudited app may only post privately
    with pytest.raises(PublishError) as exc:
        _adapter(tiktok).publish(_ctx(small_mp4))
    assert exc.value.code == "config" and "SELF_ONLY" in exc.value.detail
    tiktok.privacy_options = ["PUBLIC_TO_EVERYONE"]
    tiktok.spam_limit = True
    with pytest.raises(PublishError) as exc:
        _adapter(tiktok).publish(_ctx(small_mp4))
    assert exc.value.code == "quota"
    bad = TikTokAdapter({"api_base": tiktok.url}, {"client_key": "ck", "client_secret": "cs", "refresh_token": "old"})
    with pytest.raises(PublishError) as exc:
        bad.publish(_ctx(small_mp4))
    assert exc.value.code == "expired_token"


def test_adapter_built_from_channel_decrypts_credentials(app, make_channel, tiktok):
    channel = make_channel("tiktok", {"api_base": tiktok.url}, {
        "client_key": "ck", "client_secret": "tiktok-client-secret-0042", "refresh_token": FakeTikTok.REFRESH_TOKEN})
    assert "tiktok-client-secret" not in channel.credentials_encrypted
    assert build_adapter(channel).check()["username"] == "bantuyengiao"
