"""The Content-Security-Policy in Chromium: every kind of page loads its scripts without a violation
(the panel, the portal, the player and its embed, the transcript editor, the cutting room, the publish
page, the live wall, the studio, the queue dashboard), their scripts run, and an injected inline script
is refused."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from orchestrator.scheduling import EventInput, create_event
from tests.e2e.conftest import wait_for_js, watch_csp
from tests.e2e.test_portal_player import clip  # noqa: F401 - the published clip fixture
from tests.orchestrator.test_scheduling_rules import future, make_tree
from tests.web.test_security_edges import _failed_jobs

pytestmark = pytest.mark.e2e


def _login(page, live_server, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url("**/panel/**")


def test_pages_run_their_scripts_under_the_policy(app, live_server, browser, make_user, clip):  # noqa: F811
    t = make_tree()
    tech = make_user("technician")
    start = future(700 + uuid.uuid4().int % 100)
    event = create_event(tech, EventInput(kind="conference", title="Hội nghị CSP", starts_at=start,
                                          ends_at=start + timedelta(hours=1), host_site_id=t["P"].id,
                                          site_ids=[t["P"].id, t["D1"].id]))[0]
    rec_id = clip.recording_id
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    violations = watch_csp(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # The public portal: the player plays through hls.js (MSE, blob: URLs, its worker).
        page.goto(f"{live_server}/")
        page.goto(f"{live_server}/v/{clip.slug}")
        wait_for_js(page, "document.getElementById('player').readyState >= 2", timeout=30_000)
        page.goto(f"{live_server}/embed/{clip.slug}")
        wait_for_js(page, "document.querySelector('video').readyState >= 2", timeout=30_000)

        admin = make_user("admin")
        _login(page, live_server, admin)
        for path in ("/panel/", "/panel/upload", "/events/", f"/events/{event.id}",
                     f"/events/{event.id}/invitations", f"/panel/recordings/{rec_id}",
                     f"/panel/recordings/{rec_id}/publish", "/admin/channels/", "/sites/"):
            response = page.goto(f"{live_server}{path}")
            assert response.status == 200, path
        # The cancel button asks first (app.js, no inline handler): dismissing keeps the event.
        page.goto(f"{live_server}/events/{event.id}")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("form[data-confirm] button")
        assert page.url.endswith(f"/events/{event.id}")
        # The queue dashboard renders its rows with underscore templates ('unsafe-eval' there only), and
        # its buttons post with the CSRF token it reads from its cookie.
        page.goto(f"{live_server}/admin/rq/")
        page.wait_for_selector("#queues tbody tr", timeout=15_000)
        queue_name = f"csp-{uuid.uuid4().hex[:6]}"
        registry = _failed_jobs(app, queue_name, 2)
        page.goto(f"{live_server}/admin/rq/0/view/jobs/{queue_name}/failed/8/asc/1")
        page.wait_for_selector("#requeue-all-btn")
        page.click("#requeue-all-btn")
        page.click("#confirmation-modal-yes")
        deadline = time.monotonic() + 10
        while registry.count and time.monotonic() < deadline:
            time.sleep(0.2)
        assert registry.count == 0

        editor = make_user("editor")
        page.context.clear_cookies()
        _login(page, live_server, editor)
        page.goto(f"{live_server}/panel/recordings/{rec_id}/transcript/vi")
        page.wait_for_selector("#cue-list .cue-row", timeout=15_000)
        page.goto(f"{live_server}/panel/recordings/{rec_id}/edit")
        wait_for_js(page, "document.querySelector('video') && document.querySelector('video').readyState >= 1",
                               timeout=20_000)

        page.context.clear_cookies()
        _login(page, live_server, tech)
        page.goto(f"{live_server}/events/{event.id}/wall")
        page.wait_for_selector("#wall .tile", timeout=15_000)
        page.goto(f"{live_server}/studio/events/{event.id}")
        page.wait_for_load_state("load")
        assert not violations, violations

        # The policy is really enforced: an inline script without the nonce does not run.
        with pytest.raises(Exception, match="Content Security Policy"):
            page.add_script_tag(content="window.__injected = true")
        assert page.evaluate("window.__injected === undefined")
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
