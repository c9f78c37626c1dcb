"""The public portal over HTTP: pages, series, search, feeds, sitemap, caching, share/embed, downloads,
storage URLs when a media base URL is configured."""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

import pytest

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Asset, Publication, Transcript
from orchestrator.publishing.service import Choice, approve, run_publication
from orchestrator.seed import portal_channel
from tests.publishing.conftest import make_recording, poster_jpg, small_mp4  # noqa: F401  (fixtures)

EN_VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nGreetings, comrades\n"
MRSS = "{http://search.yahoo.com/mrss/}"


@pytest.fixture
def series():
    scheduling = pytest.importorskip("orchestrator.scheduling")
    row = scheduling.Series(name="Đưa nghị quyết của Đảng vào cuộc sống", slug=f"dua-nghi-quyet-{uuid.uuid4().hex[:6]}",
                            description="Chuỗi báo cáo chuyên đề")
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def publish_clip(app, make_recording):  # noqa: F811
    def publish(video, *, title="Báo cáo chuyên đề tháng 11", series=None, allow_download=False,
                confidential=False):
        rec = make_recording(video, title=title, confidential=False)
        store = core.storage()
        prefix = f"recordings/{rec.id}"
        store.put_bytes(f"{prefix}/media/hls/master.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv0.m3u8\n")
        store.put_bytes(f"{prefix}/subtitles/en.vtt", EN_VTT.encode())
        db.session.add_all([
            Asset(recording=rec, kind="hls", storage_key=f"{prefix}/media/hls/master.m3u8"),
            Asset(recording=rec, kind="subtitles_vtt", language="en", storage_key=f"{prefix}/subtitles/en.vtt"),
            Transcript(recording_id=rec.id, language="vi", version=1, text="Xin chào các đồng chí. Nghị quyết số 57",
                       cues=[{"start": 0.0, "end": 1.5, "text": "Xin chào các đồng chí"},
                             {"start": 1.5, "end": 3.0, "text": "nghị quyết số 57"}]),
        ])
        if series is not None:
            rec.event.series_id = series.id
        db.session.commit()
        [pub] = approve(rec, [Choice(portal_channel().id, title=title, allow_download=allow_download)], None)
        run_publication(pub.id)
        if confidential:
            rec.event.confidential = True
            db.session.commit()
        db.session.expire_all()
        return db.session.get(Publication, pub.id)
    return publish


def test_clip_page_player_tracks_share_embed_and_cards(app, publish_clip, small_mp4, series):  # noqa: F811
    pub = publish_clip(small_mp4, series=series)
    client = app.test_client()
    response = client.get(f"/v/{pub.slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # Both subtitle tracks, Vietnamese first and on by default; the transcript with seekable lines.
    tracks = re.findall(r'<track kind="subtitles" srclang="(\w+)"[^>]*?( default)?>', html)
    assert tracks == [("vi", " default"), ("en", "")]
    assert 'data-start="1.5"' in html and "nghị quyết số 57" in html
    # Open Graph / Twitter cards, share links and the embed code.
    assert f'<meta property="og:url" content="http://localhost/v/{pub.slug}">' in html
    assert 'name="twitter:card" content="player"' in html and f"http://localhost/embed/{pub.slug}" in html
    assert "facebook.com/sharer" in html and "&lt;iframe src=&#34;http://localhost/embed/" in html
    assert series.name in html
    # No download unless the editor allowed it.
    assert 'id="download"' not in html
    assert client.get(f"/v/{pub.slug}/download.mp4").status_code == 404
    # The embed page plays the same clip; the player honours ?cc=0.
    embed = client.get(f"/embed/{pub.slug}?cc=0")
    assert embed.status_code == 200 and "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert 'data-captions="off"' in embed.get_data(as_text=True) and " default>" not in embed.get_data(as_text=True)
    # Home and series pages list it; the English subtitles are served.
    assert pub.slug in client.get("/").get_data(as_text=True)
    assert pub.slug in client.get(f"/series/{series.slug}").get_data(as_text=True)
    assert client.get(f"/v/{pub.slug}/subtitles/en.vtt").data.decode() == EN_VTT


def test_pages_are_cacheable_without_cookies(app, publish_clip, small_mp4):  # noqa: F811
    pub = publish_clip(small_mp4)
    client = app.test_client()
    for path in ("/", f"/v/{pub.slug}", "/feed.xml", "/sitemap.xml"):
        first = client.get(path)
        assert first.status_code == 200, path
        assert "Set-Cookie" not in first.headers, path
        assert first.cache_control.public and first.cache_control.max_age >= 60, path
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.data, path
    playlist = client.get(f"/v/{pub.slug}/hls/master.m3u8")
    assert playlist.status_code == 200 and playlist.cache_control.max_age == 10


def test_view_beacon_counts_and_search_finds_transcripts(app, publish_clip, small_mp4):  # noqa: F811
    pub = publish_clip(small_mp4, title="Hội nghị học tập nghị quyết")
    client = app.test_client()
    assert client.post(f"/v/{pub.slug}/view").status_code == 204
    assert client.post(f"/v/{pub.slug}/view").status_code == 204
    db.session.expire_all()
    assert db.session.get(Publication, pub.id).view_count == 2
    assert client.post("/v/khong-co/view").status_code == 404
    assert pub.slug in client.get("/search?q=số 57").get_data(as_text=True)        # in the transcript
    assert pub.slug in client.get("/search?q=HỌC TẬP").get_data(as_text=True)    # in the title, any case
    assert pub.slug not in client.get("/search?q=không-có-gì-như-vậy").get_data(as_text=True)


def test_feeds_and_sitemap_list_only_public_clips(app, publish_clip, small_mp4, series):  # noqa: F811
    shown = publish_clip(small_mp4, title="Clip công khai", series=series, allow_download=True)
    hidden = publish_clip(small_mp4, title="Clip mật", series=series, confidential=True)
    client = app.test_client()
    rss = ET.fromstring(client.get(f"/series/{series.slug}/feed.xml").data)
    items = rss.findall("./channel/item")
    assert [i.findtext("title") for i in items] == ["Clip công khai"]
    item = items[0]
    assert item.find("enclosure").get("type") == "video/mp4" and int(item.find("enclosure").get("length")) > 0
    contents = item.findall(f"{MRSS}group/{MRSS}content")
    assert {c.get("type") for c in contents} == {"video/mp4", "application/x-mpegURL"}
    assert item.find(f"{MRSS}thumbnail").get("url").startswith("http://localhost/v/")
    assert {s.get("lang") for s in item.findall(f"{MRSS}subTitle")} == {"vi", "en"}
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    assert f"/v/{shown.slug}</loc>" in sitemap and f"/v/{hidden.slug}" not in sitemap
    assert client.get(f"/v/{hidden.slug}").status_code == 404
    # The editor allowed downloads: a signed link to the MP4.
    response = client.get(f"/v/{shown.slug}/download.mp4")
    assert response.status_code == 302
    assert client.get(response.headers["Location"]).data == small_mp4.read_bytes()


def test_media_base_url_makes_pages_point_at_storage(app, publish_clip, small_mp4, monkeypatch):  # noqa: F811
    pub = publish_clip(small_mp4)
    monkeypatch.setenv("DIEMCAU_MEDIA_BASE_URL", "https://media.example.vn/diemcau")
    html = app.test_client().get(f"/v/{pub.slug}").get_data(as_text=True)
    rid = pub.recording_id
    assert f'data-src="https://media.example.vn/diemcau/recordings/{rid}/media/hls/master.m3u8"' in html
    assert f'src="https://media.example.vn/diemcau/recordings/{rid}/subtitles/en.vtt"' in html
    assert f'poster="https://media.example.vn/diemcau/recordings/{rid}/media/poster.jpg"' in html
