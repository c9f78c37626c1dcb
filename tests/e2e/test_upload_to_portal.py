"""A technician logs in, drags a video in, watches the pipeline, and a viewer plays the clip on the
portal with Vietnamese subtitles: production web server, real worker, real Chromium."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS, wait_for_js, wait_for_portal_link
from tests.media_helpers import speech_clip

pytestmark = pytest.mark.e2e


def test_upload_watch_progress_and_play_on_portal(live_server, worker, page, make_user, tmp_path, shared_data):
    user = make_user("technician")
    clip = speech_clip(tmp_path / "bao-cao.mp4", max_s=12)

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/panel/")

    page.click("text=Tải video lên")
    page.fill("#title", "Báo cáo chuyên đề tháng 11")
    page.set_input_files("#file", str(clip))
    page.click("#upload-button")
    page.wait_for_url("**/panel/recordings/*", timeout=60_000)

    wait_for_portal_link(page)
    assert page.locator('li.stage.done').count() == 4
    page.screenshot(path=str(ARTIFACTS / "panel-recording.png"), full_page=True)

    page.click("#portal-link a")
    page.wait_for_url("**/v/*")
    video = page.locator("#player")
    page.evaluate("document.getElementById('player').muted = true; document.getElementById('player').play()")
    wait_for_js(page, "document.getElementById('player').currentTime > 1.5", timeout=60_000)
    tracks = page.evaluate("""() => Array.from(document.getElementById('player').textTracks)
        .map(t => ({lang: t.language, label: t.label, mode: t.mode, cues: t.cues ? t.cues.length : 0}))""")
    assert tracks and tracks[0]["lang"] == "vi" and tracks[0]["mode"] == "showing", tracks
    wait_for_js(page, "document.getElementById('player').textTracks[0].cues.length > 0", timeout=20_000)
    levels = page.evaluate("window.diemcauHls ? window.diemcauHls.levels.map(l => l.height) : []")
    assert levels, "hls.js found no renditions"
    assert video.evaluate("v => v.videoWidth") > 0
    # Clicking a transcript line seeks the player there.
    cue = page.locator(".transcript .cue").first
    start = float(cue.get_attribute("data-start"))
    cue.click()
    wait_for_js(page, f"Math.abs(document.getElementById('player').currentTime - {start}) < 1.5")
    page.screenshot(path=str(ARTIFACTS / "portal-clip.png"), full_page=True)

    # Switching the subtitle track off and on again works from script, as the player menu does.
    page.evaluate("document.getElementById('player').textTracks[0].mode = 'disabled'")
    assert page.evaluate("document.getElementById('player').textTracks[0].mode") == "disabled"


def test_phone_viewport_portal_home(live_server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True)
    page = context.new_page()
    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() in {"Video mới nhất"}
    page.screenshot(path=str(ARTIFACTS / "portal-home-phone.png"), full_page=True)
    context.close()
