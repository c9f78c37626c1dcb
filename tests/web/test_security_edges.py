"""State changes by link on the queue dashboard, and the security headers of every kind of page."""
from __future__ import annotations

import re
import uuid

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from orchestrator import core
from tests.conftest import login


def _failed_jobs(app, queue_name: str, n: int) -> FailedJobRegistry:
    with app.app_context():
        conn = core.redis_connection()
        queue = Queue(queue_name, connection=conn)
        registry = queue.failed_job_registry
        for _ in range(n):
            job = Job.create(func="builtins.print", args=("x",), connection=conn, origin=queue_name)
            job.save()
            registry.add(job, ttl=600, exc_string="Traceback: boom")
    return registry


def test_dashboard_actions_need_post_and_a_csrf_token(app, make_user):
    queue_name = f"test-{uuid.uuid4().hex[:6]}"
    registry = _failed_jobs(app, queue_name, 3)
    admin = app.test_client()
    login(admin, make_user("admin"))

    def failed_count() -> int:
        with app.app_context():
            return registry.count

    # A link (GET) changes nothing, whatever the action.
    for path in (f"/admin/rq/requeue/{queue_name}", f"/admin/rq/queue/{queue_name}/failed/empty",
                 "/admin/rq/job/abc/requeue", "/admin/rq/job/abc/delete", f"/admin/rq/queue/{queue_name}/compact"):
        assert admin.get(path).status_code == 405, path
    assert failed_count() == 3
    # A cross-site form (POST without the token, with or without the XHR header) is refused too.
    assert admin.post(f"/admin/rq/requeue/{queue_name}").status_code == 400
    assert admin.post(f"/admin/rq/requeue/{queue_name}",
                      headers={"X-Requested-With": "XMLHttpRequest"}).status_code == 400
    assert admin.post(f"/admin/rq/requeue/{queue_name}", headers={"X-CSRFToken": "forged"}).status_code == 400
    assert failed_count() == 3
    # The dashboard's own script: it reads the token from the cookie the dashboard page sets.
    page = admin.get(f"/admin/rq/0/view/jobs/{queue_name}/failed/8/asc/1")
    assert page.status_code == 200
    cookie = admin.get_cookie("_csrf_token", path="/admin/rq/")
    assert cookie is not None and cookie.same_site == "Strict"
    response = admin.post(f"/admin/rq/requeue/{queue_name}", headers={"X-CSRFToken": cookie.value})
    assert response.status_code == 200 and response.get_json() == {"status": "OK", "count": 3}
    assert failed_count() == 0
    # The nonce-carrying inline script and the dashboard's own files still load under the CSP.
    html = page.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in html and "'unsafe-eval'" in page.headers["Content-Security-Policy"]
    # Others still cannot open it.
    tech = app.test_client()
    login(tech, make_user("technician"))
    assert tech.get("/admin/rq/").status_code == 403
    assert app.test_client().post(f"/admin/rq/requeue/{queue_name}").status_code in (400, 401)


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in policy.split(";")) if part}


def test_every_page_sends_the_security_headers(app, make_user):
    client = app.test_client()
    login(client, make_user("admin"))
    for path in ("/panel/", "/events/", "/login", "/", "/no-such-page", "/api/events", "/robots.txt"):
        response = client.get(path)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert headers["X-Frame-Options"] == "DENY", path
        if response.mimetype != "text/html":
            # Files and data get no page policy (it would stop the browser's own PDF or video viewer).
            assert "Content-Security-Policy" not in headers, path
            continue
        csp = _csp(response)
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'", path
        assert re.fullmatch(r"'self' 'nonce-[\w-]{20,}'", csp["script-src"]), (path, csp["script-src"])
        assert "'unsafe-inline'" not in csp["script-src"]
        assert core.settings().media_server_url in csp["connect-src"].split(), path  # the media server (WHIP/WHEP)
        assert "blob:" in csp["media-src"] and "blob:" in csp["worker-src"]  # hls.js (MSE, its worker)
        assert "Strict-Transport-Security" not in headers                  # the public URL is http here
    # Each response gets its own nonce, and the page's inline script carries it.
    first, second = client.get("/panel/"), client.get("/panel/")
    assert _csp(first)["script-src"] != _csp(second)["script-src"]


def test_the_embed_player_may_be_framed_and_hsts_follows_the_public_url(app, monkeypatch):
    from dataclasses import replace

    client = app.test_client()
    response = client.get("/embed/no-such-clip")
    assert "X-Frame-Options" not in response.headers and _csp(response)["frame-ancestors"] == "*"
    monkeypatch.setenv("DIEMCAU_EMBED_ANCESTORS", "https://sotttt.gov.vn https://*.gov.vn")
    assert _csp(client.get("/embed/no-such-clip"))["frame-ancestors"] == "https://sotttt.gov.vn https://*.gov.vn"
    assert _csp(client.get("/"))["frame-ancestors"] == "'none'"

    settings = app.extensions["diemcau.settings"]
    monkeypatch.setitem(app.extensions, "diemcau.settings", replace(settings, public_url="https://diemcau.gov.vn"))
    assert client.get("/").headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("template, needle", [
    ("publish/recording.html", "<script nonce="), ("base.html", "js/app.js"),
])
def test_inline_scripts_carry_the_nonce_and_no_inline_handlers_remain(template, needle):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "web" / "templates"
    assert needle in (root / template).read_text()
    for path in root.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"\son[a-z]+=\"", text), f"inline event handler in {path}"
        for tag in re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"(?:application/json|text/template)\")[^>]*>",
                              text):
            assert "csp_nonce()" in tag, f"inline script without the nonce in {path}: {tag}"
