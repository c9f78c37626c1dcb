"""Facebook, Zalo and WordPress adapters against loopback fakes of their documented protocols."""
from __future__ import annotations

import pytest

from orchestrator.db import db
from orchestrator.models import Channel
from orchestrator.publishing.base import JobContext, MediaFile, PublishError
from orchestrator.publishing.facebook import FacebookAdapter
from orchestrator.publishing.service import build_adapter
from orchestrator.publishing.wordpress import WordPressAdapter
from orchestrator.publishing.zalo import ZaloAdapter
from orchestrator.secrets import decrypt
from tests.publishing.fakes import FakeFacebook, FakeWordPress, FakeZalo

FAST = {"poll_interval_s": 0.01, "poll_timeout_s": 5}


def _ctx(video, state=None, aspect="16:9", thumbnail=None) -> JobContext:
    return JobContext(publication_id=1, idempotency_key="x:1:recording:7", recording_id=7,
                      title="Hội nghị báo cáo viên tháng 11", description="Tóm tắt nội dung.\n\nĐoạn hai.",
                      video=MediaFile(video, video.stat().st_size, "video/mp4", aspect, 3.0), thumbnail=thumbnail,
                      public_url="https://cong.example.vn/v/hoi-nghi-7", thumbnail_url="https://cong.example.vn/p.jpg",
                      state=state if state is not None else {})


# --- Facebook --------------------------------------------------------------------------------------

@pytest.fixture
def facebook():
    with FakeFacebook() as fake:
        yield fake


def _fb(fake: FakeFacebook) -> FacebookAdapter:
    return FacebookAdapter({"graph_base": fake.url, "video_base": fake.url, "page_id": fake.PAGE_ID,
                            "app_id": fake.APP_ID, **FAST},
                           {"user_access_token": fake.USER_TOKEN, "page_access_token": fake.PAGE_TOKEN})


def test_facebook_resumes_the_upload_at_file_offset(facebook, small_mp4):
    state: dict = {}
    facebook.keep_fraction = 0.4   # the connection drops after 40 % of the bytes arrived
    with pytest.raises(PublishError) as exc:
        _fb(facebook).publish(_ctx(small_mp4, state))
    assert exc.value.retryable and state["upload_session"] and not facebook.videos
    ref = _fb(facebook).publish(_ctx(small_mp4, state))
    size = small_mp4.stat().st_size
    assert facebook.offsets_sent == [0, int(size * 0.4)]   # asked GET upload:<id> → file_offset, sent the rest
    [session] = facebook.sessions.values()
    assert bytes(session["data"]) == small_mp4.read_bytes()
    [(video_id, video)] = facebook.videos.items()
    assert ref.external_id == video_id and ref.url.endswith(f"/videos/{video_id}")
    assert video["title"] == "Hội nghị báo cáo viên tháng 11" and "cong.example.vn/v/hoi-nghi-7" in video["description"]


def test_facebook_lost_answer_of_videos_is_confirmed_not_reposted(facebook, small_mp4):
    state: dict = {}
    facebook.lose_publish_answer = True
    with pytest.raises(PublishError):
        _fb(facebook).publish(_ctx(small_mp4, state))
    assert len(facebook.videos) == 1 and "video_id" not in state
    ref = _fb(facebook).publish(_ctx(small_mp4, state))
    assert len(facebook.videos) == 1 and ref.external_id in facebook.videos


def test_facebook_vertical_cut_goes_out_as_a_reel(facebook, small_mp4):
    state: dict = {}
    ref = _fb(facebook).publish(_ctx(small_mp4, state, aspect="9:16"))
    [(reel_id, reel)] = facebook.reels.items()
    assert reel["published"] and bytes(reel["data"]) == small_mp4.read_bytes() and not facebook.videos
    assert ref.url == f"https://www.facebook.com/reel/{reel_id}"
    _fb(facebook).publish(_ctx(small_mp4, state, aspect="9:16"))   # re-run: confirms
    assert len(facebook.reels) == 1
    _fb(facebook).unpublish(_ctx(small_mp4, state))
    assert not facebook.reels


def test_facebook_expired_page_token(facebook, small_mp4):
    facebook.token_expired = True
    with pytest.raises(PublishError) as exc:
        _fb(facebook).publish(_ctx(small_mp4))
    assert exc.value.code == "expired_token" and not exc.value.retryable


# --- Zalo ------------------------------------------------------------------------------------------

@pytest.fixture
def zalo():
    with FakeZalo() as fake:
        yield fake


def test_zalo_video_article_with_processing_status_and_rotating_refresh_token(app, zalo, make_channel, small_mp4):
    channel = make_channel("zalo", {"api_base": zalo.url, "oauth_base": zalo.url, "app_id": zalo.APP_ID, **FAST},
                           {"app_secret": zalo.SECRET, "refresh_token": "zr-1"})
    state: dict = {}
    ref = build_adapter(channel).publish(_ctx(small_mp4, state))
    [upload] = zalo.uploads.values()
    assert upload["polls"] == zalo.convert_polls + 1          # polled through "processing" (status 3)
    [(article_id, article)] = zalo.articles.items()
    assert ref.external_id == article_id and ref.url == article["link"] and article["video_id"] == state["video_id"]
    # The refresh token is single use: the new one was stored (encrypted) at once, with its expiry.
    db.session.expire_all()
    channel = db.session.get(Channel, channel.id)
    stored = decrypt(channel.credentials_encrypted)
    assert stored["refresh_token"] in zalo.refresh_tokens and stored["refresh_token"] != "zr-1"
    assert channel.credentials_expire_at is not None
    build_adapter(channel).unpublish(_ctx(small_mp4, state))
    assert not zalo.articles


def _zalo(fake: FakeZalo, refresh: str = "zr-1") -> ZaloAdapter:
    return ZaloAdapter({"api_base": fake.url, "oauth_base": fake.url, "app_id": fake.APP_ID, **FAST},
                       {"app_secret": fake.SECRET, "refresh_token": refresh})


def test_zalo_errors_inside_http_200_are_errors(zalo, small_mp4):
    zalo.error_on_create = -32
    state: dict = {}
    adapter = _zalo(zalo)
    with pytest.raises(PublishError) as exc:
        adapter.publish(_ctx(small_mp4, state))
    assert exc.value.code == "quota" and not zalo.articles and state["video_id"]
    adapter.publish(_ctx(small_mp4, state))                   # retry: the uploaded video is reused
    assert len(zalo.uploads) == 1 and len(zalo.articles) == 1
    zalo.fail_convert = True
    zalo.refresh_tokens.add("zr-2")    # "zr-1" was used up: Zalo refresh tokens are single use
    with pytest.raises(PublishError) as exc:
        _zalo(zalo, "zr-2").publish(_ctx(small_mp4, {}))
    assert exc.value.code == "rejected_file" and "Convert failed" in exc.value.detail
    bad = ZaloAdapter({"api_base": zalo.url, "oauth_base": zalo.url, "app_id": zalo.APP_ID}, {
        "app_secret": zalo.SECRET, "refresh_token": "zr-used"})
    with pytest.raises(PublishError) as exc:
        bad.publish(_ctx(small_mp4))
    assert exc.value.code == "expired_token"


# --- WordPress -------------------------------------------------------------------------------------

@pytest.fixture
def wordpress():
    with FakeWordPress() as fake:
        yield fake


def _wp(fake: FakeWordPress, password: str | None = None) -> WordPressAdapter:
    return WordPressAdapter({"site_url": fake.url}, {"username": fake.USER,
                                                     "application_password": password or fake.APP_PASSWORD})


def test_wordpress_media_then_post_confirmed_by_slug_on_retry(wordpress, small_mp4, poster_jpg):
    state: dict = {}
    wordpress.lose_post_answer = True
    with pytest.raises(PublishError):
        _wp(wordpress).publish(_ctx(small_mp4, state, thumbnail=poster_jpg))
    ref = _wp(wordpress).publish(_ctx(small_mp4, state, thumbnail=poster_jpg))
    assert len(wordpress.posts) == 1 and len(wordpress.media) == 2      # video + poster, each once
    [post] = wordpress.posts.values()
    video = next(m for m in wordpress.media.values() if m["mime_type"] == "video/mp4")
    assert video["size"] == small_mp4.stat().st_size and video["source_url"] in post["content"]["raw"]
    assert post["featured_media"] == state["poster_id"] and ref.url == post["link"]
    assert "<!-- wp:video -->" in post["content"]["raw"] and "Đoạn hai." in post["content"]["raw"]
    _wp(wordpress).unpublish(_ctx(small_mp4, state))
    assert post["status"] == "trash"


def test_wordpress_rejects_a_revoked_application_password(wordpress, small_mp4):
    with pytest.raises(PublishError) as exc:
        _wp(wordpress, password="revoked").publish(_ctx(small_mp4))
    assert exc.value.code == "expired_token" and not wordpress.media
