"""An attacker and a technician on the same instance, in Chromium: playlists that point at the server's
files are refused at the upload form with nothing created, a real clip goes through the pipeline to the
portal under the security headers, the technician's cookies die at logout, and password guessing is
stopped at the eleventh try even when it hits the right password."""
from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS, wait_for_js, wait_for_portal_link
from tests.media_helpers import make_video, speech_clip

pytestmark = pytest.mark.e2e

PLAYLIST_REFUSED = "Tệp này là danh sách phát"
THROTTLED = "Quá nhiều lần nhập sai mật khẩu"


def _recording_count() -> int:
    from orchestrator.db import db
    from orchestrator.models import Recording

    db.session.expire_all()
    return db.session.query(Recording).count()


def _log_in(page, base: str, username: str, password: str, remember: bool = False) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    if remember:
        page.check("input[name=remember]")
    page.click("button[type=submit]")


def _hostile_uploads(tmp_path, secret_segment) -> list:
    """A playlist naming a server file by absolute URL, and one by relative path disguised as an MP4."""
    absolute = tmp_path / "bao-cao.m3u8"
    absolute.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"
                        f"file://{secret_segment}\n#EXT-X-ENDLIST\n")
    disguised = tmp_path / "bao-cao-thang-12.mp4"
    relative = "../" * 12 + str(secret_segment).lstrip("/")
    disguised.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{relative}\n#EXT-X-ENDLIST\n")
    return [absolute, disguised]


def test_hostile_uploads_refused_clip_published_sessions_end_and_guessing_stopped(
        live_server, worker, page, browser, make_user, tmp_path):
    user = make_user("technician")
    # A "server file" an attacker would like published: a playable segment outside any upload.
    secret_segment = make_video(tmp_path / "server-secret.ts", duration=4, width=640, height=360)
    before = _recording_count()

    _log_in(page, live_server, user.username, "secret-pass", remember=True)
    page.wait_for_url("**/panel/")
    stolen_cookies = page.context.cookies()
    assert {c["name"] for c in stolen_cookies} >= {"session", "remember_token"}, stolen_cookies
    for cookie in stolen_cookies:
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie

    # 1. Playlists are refused at the form, in Vietnamese, and nothing is created.
    for hostile in _hostile_uploads(tmp_path, secret_segment):
        page.goto(f"{live_server}/panel/upload")
        page.fill("#title", "Tệp lạ")
        page.set_input_files("#file", str(hostile))
        page.click("#upload-button")
        page.wait_for_selector("#upload-error:not([hidden])", timeout=60_000)
        assert PLAYLIST_REFUSED in page.locator("#upload-error").inner_text(), hostile.name
        assert page.url.endswith("/panel/upload")
    assert _recording_count() == before
    page.screenshot(path=str(ARTIFACTS / "hardening-playlist-refused.png"), full_page=True)

    # 2. A real clip goes through every stage to the portal, whose pages carry the security headers.
    # Real Vietnamese speech where the shared data is there, else a tone: the journey runs either way.
    clip = speech_clip(tmp_path / "bao-cao-that.mp4", max_s=10) or make_video(
        tmp_path / "bao-cao-that.mp4", duration=8, width=640, height=360)
    page.goto(f"{live_server}/panel/upload")
    page.fill("#title", "Báo cáo an toàn thông tin")
    page.set_input_files("#file", str(clip))
    page.click("#upload-button")
    page.wait_for_url("**/panel/recordings/*", timeout=60_000)
    wait_for_portal_link(page)
    assert _recording_count() == before + 1
    page.click("#portal-link a")
    page.wait_for_url("**/v/*")
    clip_url = page.url
    page.evaluate("document.getElementById('player').muted = true; document.getElementById('player').play()")
    wait_for_js(page, "document.getElementById('player').currentTime > 1", timeout=60_000)
    headers = requests.get(clip_url, timeout=10).headers
    assert "nonce-" in headers["Content-Security-Policy"] and "frame-ancestors 'none'" in headers[
        "Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    page.screenshot(path=str(ARTIFACTS / "hardening-clip.png"), full_page=True)

    # 3. Logging out ends the session everywhere: the cookies taken before do not open the panel.
    page.goto(f"{live_server}/panel/")
    page.click("form[action$='/logout'] button")
    page.wait_for_url("**/")
    thief = browser.new_context(locale="vi-VN")
    thief.add_cookies(stolen_cookies)
    stolen = thief.new_page()
    stolen.goto(f"{live_server}/panel/")
    assert "/login" in stolen.url, stolen.url
    thief.close()

    # 4. Guessing the password from a client behind the proxy: ten wrong tries, then even the right one is
    # refused, in Vietnamese. (Another address than the other tests' browsers, which must still log in.)
    guesser = browser.new_context(locale="vi-VN", extra_http_headers={"X-Forwarded-For": "198.51.100.23"})
    guess = guesser.new_page()
    for attempt in range(10):
        _log_in(guess, live_server, user.username, f"wrong-guess-{attempt}")
        assert "/login" in guess.url
        assert "Quá nhiều" not in guess.locator("body").inner_text()
    _log_in(guess, live_server, user.username, "secret-pass")
    assert THROTTLED in guess.locator("body").inner_text()
    assert "/panel/" not in guess.url
    guess.screenshot(path=str(ARTIFACTS / "hardening-throttled.png"), full_page=True)
    guesser.close()
