"""A conference of 1,200 sites in the browser: the live wall shows one page of tiles with a pager and the
totals of every site, moves a tile on the page shown when its site reports, filters problems on the
server; the invitations page prepares the printable sheet of every site with a live progress bar.
Production web server, RQ worker, real Chromium."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests

from orchestrator.db import db
from orchestrator.invitations import join_token
from orchestrator.scheduling import EventInput, Participation, create_event
from tests.e2e.conftest import ARTIFACTS, wait_for_js
from tests.orchestrator.test_scheduling_rules import future
from tests.web.test_event_scale import bulk_tree

pytestmark = pytest.mark.e2e
SITES = 1200


def test_wall_pages_and_printable_sheet_of_a_big_conference(live_server, worker, page, make_user):
    site_ids = bulk_tree(SITES)
    tech = make_user("technician")
    start = future(600 + uuid.uuid4().int % 100)
    event = create_event(tech, EventInput(kind="conference", title="Hội nghị 1.200 điểm cầu", starts_at=start,
                                          ends_at=start + timedelta(hours=2), host_site_id=site_ids[0],
                                          site_ids=site_ids))[0]
    page.set_default_timeout(30_000)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", tech.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/panel/")

    page.goto(f"{live_server}/events/{event.id}/wall")
    wait_for_js(page, "document.querySelectorAll('.tile').length === 500")
    page.evaluate("window.__sameDocument = true")
    assert page.inner_text("#total-sites") == "1200" and page.is_visible("#wall-pager")
    assert "1–500" in page.inner_text("#wall-range") and "1200" in page.inner_text("#wall-range")
    page.click("#wall-next")
    wait_for_js(page, "document.getElementById('wall-range').textContent.includes('501–1000')")
    assert page.locator(".tile").count() == 500
    site_id = int(page.locator(".tile").nth(3).get_attribute("data-site"))

    p = db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=site_id)).scalar_one()
    report = requests.post(f"{live_server}/api/join/{event.id}/{site_id}/{join_token(p)}/report",
                           json={"state": "receiving", "rtt_ms": 20}, timeout=10)
    assert report.status_code == 200
    wait_for_js(page, f"document.querySelector('.tile[data-site=\"{site_id}\"]').dataset.state === 'receiving'")
    wait_for_js(page, "document.getElementById('total-connected').textContent === '1'", timeout=15_000)
    assert "501–1000" in page.inner_text("#wall-range")   # the refresh keeps the page shown
    page.check("#only-problems")
    wait_for_js(page, "document.getElementById('wall-range').textContent.includes('1199')")
    assert page.locator(f'.tile[data-site="{site_id}"]').count() == 0
    page.click("#wall-next")
    page.click("#wall-next")
    wait_for_js(page, "document.getElementById('wall-range').textContent.includes('1001–1199')")
    assert page.locator(".tile").count() == 199
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(ARTIFACTS / "big-wall.png"), full_page=False)

    page.goto(f"{live_server}/events/{event.id}/invitations")
    assert page.locator(".invite-page").count() == 100
    assert "1200" in page.inner_text("#sheet h2")
    wait_for_js(page, "document.getElementById('sheet').dataset.state === 'none'")
    page.click("#sheet-make")
    page.wait_for_selector("#sheet-download", state="visible", timeout=180_000)
    assert page.inner_text("#sheet .label") == "100%" and page.get_attribute("#sheet .bar", "style") == "width: 100%;"
    sheet = page.request.get(live_server + page.get_attribute("#sheet-download", "href"))
    assert sheet.ok and sheet.text().count('<article class="invite-page">') == SITES
    page.goto("about:blank")
