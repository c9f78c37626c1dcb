"""A viewer on the public portal, in Chromium against the production server (gunicorn): plays the clip,
switches subtitle track, clicks the transcript to seek, opens a #t= link, searches, copies the embed code
and plays the embed, hovers the storyboard, and does it again on a phone-sized screen."""
from __future__ import annotations

import time

import pytest

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Asset, Event, EventStatus, Publication, Recording, Transcript
from orchestrator.publishing.service import Choice, approve, run_publication
from orchestrator.seed import portal_channel
from tests.e2e.conftest import ARTIFACTS, wait_for_js
from tests.media_helpers import make_video

pytestmark = pytest.mark.e2e

VI = ("WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nXin chào các đồng chí\n\n"
      "00:00:03.000 --> 00:00:06.000\nHôm nay chúng ta học tập nghị quyết\n\n"
      "00:00:06.000 --> 00:00:09.000\nCảm ơn các đồng chí đã theo dõi\n")
EN = ("WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nGreetings, comrades\n\n"
      "00:00:03.000 --> 00:00:06.000\nToday we study the resolution\n\n"
      "00:00:06.000 --> 00:00:09.000\nThank you for watching\n")


@pytest.fixture(scope="module")
def clip(app, tmp_path_factory):
    from media import transcode

    work = tmp_path_factory.mktemp("portal-e2e")
    video = make_video(work / "src.mp4", duration=9, width=640, height=360)
    result = transcode(video, work / "out", heights=(360,), preset="ultrafast")
    event = Event(kind="report", title="Học tập nghị quyết số 57", description="Báo cáo viên trình bày.",
                  status=EventStatus.READY.value)
    rec = Recording(event=event, source_key="x", original_filename="src.mp4", duration_s=result.duration_s)
    db.session.add_all([event, rec])
    db.session.flush()
    prefix = f"recordings/{rec.id}/media"
    store = core.storage()
    store.put_dir(prefix, work / "out")
    assets = [Asset(recording=rec, kind="hls", storage_key=f"{prefix}/{result.master_playlist}"),
              Asset(recording=rec, kind="mp4", storage_key=f"{prefix}/{result.mp4}"),
              Asset(recording=rec, kind="poster", storage_key=f"{prefix}/{result.poster}")]
    if result.storyboard:
        vtt = result.storyboard["vtt"]
        key = next((k for k in store.list(prefix + "/") if k.endswith("/" + vtt)), f"{prefix}/{vtt}")
        assets.append(Asset(recording=rec, kind="storyboard", storage_key=key, meta=result.storyboard))
    for lang, text in (("vi", VI), ("en", EN)):
        store.put_bytes(f"recordings/{rec.id}/subtitles/{lang}.vtt", text.encode())
        assets.append(Asset(recording=rec, kind="subtitles_vtt", language=lang,
                            storage_key=f"recordings/{rec.id}/subtitles/{lang}.vtt"))
    db.session.add_all(assets)
    db.session.add(Transcript(recording_id=rec.id, language="vi", version=1, text=VI,
                              cues=[{"start": 0.0, "end": 3.0, "text": "Xin chào các đồng chí"},
                                    {"start": 3.0, "end": 6.0, "text": "Hôm nay chúng ta học tập nghị quyết"},
                                    {"start": 6.0, "end": 9.0, "text": "Cảm ơn các đồng chí đã theo dõi"}]))
    db.session.commit()
    [pub] = approve(rec, [Choice(portal_channel().id, title=event.title, allow_download=True)], None)
    run_publication(pub.id)
    db.session.expire_all()
    return db.session.get(Publication, pub.id)


def _tracks(page):
    return page.evaluate("""() => Array.from(document.getElementById('player').textTracks)
        .filter(t => t.kind === 'subtitles').map(t => ({lang: t.language, mode: t.mode}))""")


def test_play_switch_subtitles_seek_search_and_embed(live_server, page, clip):
    page.goto(f"{live_server}/v/{clip.slug}")
    page.evaluate("document.getElementById('player').muted = true")
    page.click("#player")  # a real user gesture
    page.evaluate("document.getElementById('player').play()")
    wait_for_js(page, "document.getElementById('player').currentTime > 1", timeout=60_000)
    assert _tracks(page) == [{"lang": "vi", "mode": "showing"}, {"lang": "en", "mode": "disabled"}]
    assert page.evaluate("window.diemcauHls.levels.length") >= 1

    # Switch the subtitles to English from the track menu: the English cues load and show.
    page.select_option("#caption-select", "en")
    assert _tracks(page) == [{"lang": "vi", "mode": "disabled"}, {"lang": "en", "mode": "showing"}]
    wait_for_js(page, "Array.from(document.getElementById('player').textTracks)"
                           ".find(t => t.language === 'en').cues.length === 3", timeout=20_000)

    # Click a transcript line: the player jumps there and the line is marked as the current one.
    page.locator(".transcript .cue").nth(2).click()
    wait_for_js(page, "Math.abs(document.getElementById('player').currentTime - 6) < 1.5")
    page.wait_for_selector(".transcript .cue[aria-current]")
    page.screenshot(path=str(ARTIFACTS / "portal-clip-player.png"), full_page=True)

    # The view beacon counted the play.
    deadline = time.monotonic() + 10
    while True:
        db.session.expire_all()
        if db.session.get(Publication, clip.id).view_count >= 1:
            break
        assert time.monotonic() < deadline, "no view was counted"
        time.sleep(0.3)

    # Storyboard previews over the lower part of the picture, when the media stage made one.
    if page.evaluate("!!document.getElementById('player').dataset.storyboard"):
        box = page.locator("#player").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] - 20)
        page.wait_for_selector("#storyboard-preview:not([hidden])", timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / "portal-storyboard.png"))

    # A shared link with #t= starts there.
    page.goto(f"{live_server}/v/{clip.slug}#t=0m4s")
    wait_for_js(page, "document.getElementById('player').readyState >= 1", timeout=30_000)
    wait_for_js(page, "Math.abs(document.getElementById('player').currentTime - 4) < 1")

    # Search finds the clip by a word of the transcript.
    page.fill("#q", "theo dõi")
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=*")
    page.click(f"a[href='/v/{clip.slug}']")
    page.wait_for_url(f"**/v/{clip.slug}")

    # The embed code is copied and works in another site's page.
    page.click("button[data-copy='#embed-code']")
    page.wait_for_selector(".share .copied:not(:empty)")
    code = page.input_value("#embed-code")
    assert code.startswith(f'<iframe src="{live_server}/embed/{clip.slug}"')
    page.set_content(f"<html><body><h1>Trang khác</h1>{code}</body></html>")
    frame = page.frame_locator("iframe")
    frame.locator("#player").evaluate("v => { v.muted = true; return v.play(); }")
    frame.locator("#player").evaluate("v => new Promise(r => { const f = () => v.currentTime > 1 ? r() : "
                                      "setTimeout(f, 100); f(); })")
    page.screenshot(path=str(ARTIFACTS / "portal-embed.png"))


def test_phone_sized_clip_page(live_server, browser, clip):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server}/v/{clip.slug}")
    wait_for_js(page, "document.getElementById('player').readyState >= 1", timeout=30_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 392, "the page scrolls sideways on a phone"
    assert page.locator("#download").is_visible()
    page.locator(".transcript .cue").nth(1).tap()
    wait_for_js(page, "Math.abs(document.getElementById('player').currentTime - 3) < 1.5")
    page.screenshot(path=str(ARTIFACTS / "portal-clip-phone.png"), full_page=True)
    page.goto(f"{live_server}/")
    page.screenshot(path=str(ARTIFACTS / "portal-home-phone-clips.png"), full_page=True)
    context.close()
