"""A technician builds a three-level conference over Hà Giang, prints the invitations, two sites open their
join pages in separate browsers and enter attendance, the technician starts the event, and the live wall
turns those sites "joined" and updates the totals without a reload. Production web server, real Chromium."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest

from orchestrator.scheduling import TZ
from orchestrator.sites import import_path
from tests.e2e.conftest import ARTIFACTS, wait_for_js

pytestmark = pytest.mark.e2e


def test_three_level_conference_invitations_join_pages_and_live_wall(live_server, browser, page, make_user,
                                                                       shared_data):
    import zxingcpp
    from PIL import Image

    assert import_path(shared_data / "admin" / "ha_giang_tree.csv").ok
    tech = make_user("technician")
    page.set_default_timeout(20_000)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", tech.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/panel/")

    # The conference form: province + all districts + all communes, chosen by level under Hà Giang.
    page.goto(f"{live_server}/events/new?kind=conference")
    start = (datetime.now(TZ) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    page.fill("#title", "Học tập, quán triệt Nghị quyết 57-NQ/TW")
    page.fill("input[name=new_series]", "Học tập nghị quyết")
    page.fill("textarea[name=description]", "Hội nghị trực tuyến ba cấp tỉnh, huyện, xã.")
    page.fill("#starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#ends_at", (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#host_site_id", label="Tỉnh Hà Giang")
    page.select_option("#pick-root", label="Tỉnh Hà Giang")
    page.click("#pick-apply")
    wait_for_js(page, "document.querySelectorAll('#pick-tree input[name=site_ids]:checked').length === 205")
    summary = page.inner_text("#pick-summary")
    assert "205" in summary and "Tỉnh: 1" in summary and "Huyện: 11" in summary and "Xã: 193" in summary
    # edited one by one: untick one commune
    page.locator("#pick-tree details").nth(1).evaluate("d => d.open = true")
    one = page.locator("#pick-tree details").nth(1).locator("ul input[name=site_ids]").first
    one.uncheck()
    assert "204" in page.inner_text("#pick-summary")
    one.check()
    page.screenshot(path=str(ARTIFACTS / "event-form.png"), full_page=False)
    page.click("#save-event")
    page.wait_for_url(re.compile(r".*/events/\d+$"))
    event_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert "205" in page.inner_text(".facts")

    # Calendar (month view of the event's month)
    page.goto(f"{live_server}/events/?view=month&date={start.date().isoformat()}")
    assert page.locator(".cal-event", has_text="Nghị quyết 57").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "calendar-month.png"), full_page=True)

    # The printable invitations: one page per site, with a QR code that scans to the site's link.
    page.goto(f"{live_server}/events/{event_id}")
    page.click("#open-invitations")
    page.wait_for_selector(".invite-page")
    assert page.locator(".invite-page").count() == 205
    links = page.locator(".invite-page .link a").evaluate_all("els => els.map(e => e.href)")
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "invitation-sheet.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 900})
    page.emulate_media(media="screen")
    qr_png = page.locator(".invite-page .qr").first.screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png)))
    assert decoded and decoded[0].text == links[0]
    district_link = links[1]          # the first district (sorted by level, then tree order)
    commune_link = links[-1]          # a commune
    district_id, commune_id = (int(link.split(f"/join/{event_id}/", 1)[1].split("/")[0])
                               for link in (district_link, commune_link))

    # The wall, open before anything happens; it must never reload from here on.
    page.goto(f"{live_server}/events/{event_id}/wall")
    wait_for_js(page, "document.querySelectorAll('.tile').length === 205")
    page.evaluate("window.__sameDocument = true")
    assert page.inner_text("#total-connected") == "0" and page.inner_text("#total-sites") == "205"

    # Two sites, each in its own browser context (no shared cookies or storage).
    sites = []
    for link, count in ((district_link, 45), (commune_link, 28)):
        ctx = browser.new_context(viewport={"width": 1000, "height": 900}, locale="vi-VN")
        site_page = ctx.new_page()
        site_page.set_default_timeout(20_000)
        site_page.goto(link)
        site_page.wait_for_selector("#connection.ok")
        site_page.fill("#attendance", str(count))
        site_page.click("#save-attendance")
        site_page.wait_for_selector("#attendance-msg.ok")
        assert str(count) in site_page.inner_text("#attendance-msg")
        sites.append((ctx, site_page))
    # Bad attendance gets a clear message and is not saved.
    site_page = sites[1][1]
    site_page.fill("#attendance", "-5")
    site_page.click("#save-attendance")
    site_page.wait_for_selector("#attendance-msg.error")
    assert "âm" in site_page.inner_text("#attendance-msg")
    # The pre-flight check with Chromium's fake camera and microphone.
    site_page.click("#run-check")
    site_page.wait_for_selector("#check-camera.ok")
    site_page.wait_for_selector("#check-network.ok, #check-network.bad")
    assert "ms" in site_page.inner_text("#check-network .result")
    site_page.screenshot(path=str(ARTIFACTS / "join-page.png"), full_page=True)

    # Start from the wall: status, tiles and totals change in place.
    page.click("#wall-start")
    wait_for_js(page, "document.getElementById('wall').dataset.status === 'live'")
    assert page.inner_text("#event-status") == "Đang diễn ra"
    for site_id in (district_id, commune_id):
        wait_for_js(page, f"document.querySelector('.tile[data-site=\"{site_id}\"]').dataset.state === 'joined'")
    wait_for_js(page, "document.getElementById('total-connected').textContent === '2'")
    wait_for_js(page, "document.getElementById('total-attendees').textContent === '73'")
    page.check("#only-problems")
    assert page.locator(".tile:not([hidden])").count() == 203
    page.uncheck("#only-problems")
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(ARTIFACTS / "live-wall.png"), full_page=False)

    # A site that closes its page turns "dropped" on the wall, still without a reload.
    sites[0][0].close()
    wait_for_js(page, f"document.querySelector('.tile[data-site=\"{district_id}\"]').dataset.state === 'dropped'",
                           timeout=20_000)
    wait_for_js(page, "document.getElementById('total-connected').textContent === '1'")
    assert page.evaluate("window.__sameDocument") is True
    sites[1][0].close()
    page.goto("about:blank")  # close the wall's event stream before the server stops
