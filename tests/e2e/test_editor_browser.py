"""The transcript editor in a real browser: seek from a cue, edit text and times, undo, save a version;
then the portal finds the edited words and its player starts at that moment."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Asset
from tests.e2e.conftest import ARTIFACTS, wait_for_js
from tests.media_helpers import make_video
from tests.transcript_helpers import make_transcribed_recording, publish_on_portal

pytestmark = pytest.mark.e2e


@pytest.fixture
def clip(app, tmp_path):
    video = make_video(tmp_path / "clip.mp4", duration=10, width=320, height=180, fps=10)
    rec = make_transcribed_recording(title="Hội nghị biên tập phụ đề", video=video)
    # A small HLS copy of the same video, so the portal player can play and seek it.
    hls = tmp_path / "hls"
    hls.mkdir()
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(video), "-c", "copy", "-f", "hls",
                    "-hls_time", "2", "-hls_playlist_type", "vod", str(hls / "master.m3u8")], check=True)
    prefix = f"recordings/{rec.id}/media/hls"
    core.storage().put_dir(prefix, hls)
    db.session.add(Asset(recording_id=rec.id, kind="hls", storage_key=f"{prefix}/master.m3u8"))
    db.session.commit()
    pub = publish_on_portal(rec)
    return rec.id, pub.slug


def _login(page, live_server, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/panel/**")


def test_edit_a_cue_save_a_version_and_find_it_on_the_portal(page, live_server, make_user, clip):
    rec_id, slug = clip
    _login(page, live_server, make_user("editor"))
    page.goto(f"{live_server}/panel/recordings/{rec_id}/transcript/vi")
    page.wait_for_selector("#cue-list .cue-row")
    rows = page.locator("#cue-list .cue-row")
    assert rows.count() == 2
    # The words the recogniser was unsure of are highlighted.
    assert page.locator("#cue-list mark.lowconf").all_inner_texts() == ["Lũng", "Cú"]
    wait_for_js(page, "document.getElementById('editor-video').readyState >= 1", timeout=20_000)

    # Clicking a cue seeks the video to it, and the cue is shown as the current one.
    rows.nth(1).locator(".cue-seek").click()
    wait_for_js(page, "Math.abs(document.getElementById('editor-video').currentTime - 4.0) < 0.3")
    page.wait_for_selector("#cue-list .cue-row.active[data-index='1']")
    page.screenshot(path=str(ARTIFACTS / "editor-loaded.png"), full_page=True)

    # Edit the text; undo brings the machine's text back; edit again.
    rows.nth(1).locator(".cue-text").click()
    page.fill("#cue-list .cue-row[data-index='1'] textarea", "Xã Lũng Cú, Hà Giang đón chào năm mới.")
    page.press("#cue-list .cue-row[data-index='1'] textarea", "Escape")
    assert "Hà Giang" in rows.nth(1).inner_text() and page.locator("#cue-list mark.lowconf").count() == 0
    assert page.is_enabled("#editor-save")
    page.click("#editor-undo")
    assert "Hà Giang" not in rows.nth(1).inner_text() and page.locator("#cue-list mark.lowconf").count() == 2
    rows.nth(1).locator(".cue-text").click()
    page.fill("#cue-list .cue-row[data-index='1'] textarea", "Xã Lũng Cú, Hà Giang đón chào năm mới.")
    page.press("#cue-list .cue-row[data-index='1'] textarea", "Escape")
    # Change a time: the first cue ends earlier.
    end = rows.nth(0).locator("input.time.end")
    end.fill("0:02.900")
    end.press("Tab")
    page.click("#editor-save")
    page.wait_for_selector("#editor-status.success")
    assert "phiên bản 2" in page.inner_text("#editor-status")
    versions = page.locator("#editor-versions li").all_inner_texts()
    assert len(versions) == 2 and "đã sửa" in versions[0] and "tự động" in versions[1]
    page.screenshot(path=str(ARTIFACTS / "editor-saved.png"), full_page=True)

    # The subtitle file players load was re-rendered.
    vtt = requests.get(f"{live_server}/v/{slug}/subtitles/vi.vtt", timeout=10).text
    assert "Hà Giang đón chào năm mới." in vtt and "--> 00:00:02.900" in vtt

    # A viewer finds the edited words without accents; the hit starts the player at that moment.
    page.goto(f"{live_server}/search?q=ha+giang")
    page.click("a.search-hit")
    page.wait_for_url(f"**/v/{slug}#t=4.0")
    wait_for_js(page, "document.getElementById('player').readyState >= 1", timeout=30_000)
    wait_for_js(page, "Math.abs(document.getElementById('player').currentTime - 4.0) < 1", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "search-jump.png"))


def test_reload_after_save_shows_the_new_version_and_refuses_a_stale_save(page, live_server, make_user, clip):
    rec_id, _ = clip
    _login(page, live_server, make_user("technician"))
    page.goto(f"{live_server}/panel/recordings/{rec_id}/transcript/vi")
    page.wait_for_selector("#cue-list .cue-row")
    # Someone else saves meanwhile (another tab): this page's save must not overwrite it.
    other = page.context.new_page()
    other.goto(f"{live_server}/panel/recordings/{rec_id}/transcript/vi")
    other.wait_for_selector("#cue-list .cue-row")
    other.locator("#cue-list .cue-row").nth(0).locator(".cue-delete").click()
    other.click("#editor-save")
    other.wait_for_selector("#editor-status.success")
    page.locator("#cue-list .cue-row").nth(0).locator(".cue-text").click()
    page.fill("#cue-list .cue-row[data-index='0'] textarea", "Nghị quyết của Đảng bộ tỉnh Hà Giang.")
    page.press("#cue-list .cue-row[data-index='0'] textarea", "Escape")
    page.click("#editor-save")
    page.wait_for_selector("#editor-status.error")
    assert "người khác đã lưu" in page.inner_text("#editor-status")
    page.screenshot(path=str(ARTIFACTS / "editor-conflict.png"), full_page=True)
    assert Path(ARTIFACTS / "editor-conflict.png").exists()
