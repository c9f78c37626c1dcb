"""Channel addresses an admin types are only reached when public or explicitly allowed: refused when the
channel is saved and again on every connection (redirects and DNS answers included); "Check" keeps only
whether it worked."""
from __future__ import annotations

import re
import socket

import pytest
import requests

from orchestrator.db import db
from orchestrator.models import Channel
from orchestrator.outbound import OutboundRefused, check_url, guarded_session
from orchestrator.publishing.base import PublishError
from orchestrator.publishing.wordpress import WordPressAdapter
from tests.conftest import login
from tests.publishing.fakes import FakeServer, FakeWordPress, _json


@pytest.fixture
def wordpress():
    with FakeWordPress() as fake:
        yield fake


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/", "http://localhost/", "http://10.0.0.5/", "http://192.168.1.1/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://100.64.0.1/", "http://224.0.0.1/",
    "http://[::ffff:127.0.0.1]/", "http://2130706433/", "file:///etc/passwd", "gopher://127.0.0.1/",
])
def test_private_and_odd_addresses_are_refused(url, monkeypatch):
    monkeypatch.delenv("DIEMCAU_OUTBOUND_ALLOW", raising=False)
    with pytest.raises(OutboundRefused):
        check_url(url)


def test_the_allow_list_admits_hosts_addresses_and_networks(monkeypatch):
    monkeypatch.setenv("DIEMCAU_OUTBOUND_ALLOW", "localhost, 10.0.0.0/8 ,192.168.1.7")
    for url in ("http://localhost:8080/", "http://10.1.2.3/", "https://192.168.1.7/wp-json"):
        check_url(url)
    with pytest.raises(OutboundRefused):
        check_url("http://192.168.1.8/")


def _adapter(fake) -> WordPressAdapter:
    return WordPressAdapter({"site_url": fake.url}, {"username": fake.USER, "application_password": fake.APP_PASSWORD})


def test_a_loopback_wordpress_is_refused_without_the_allowance_and_works_with_it(wordpress, monkeypatch):
    monkeypatch.delenv("DIEMCAU_OUTBOUND_ALLOW", raising=False)
    with pytest.raises(PublishError) as refused:
        _adapter(wordpress).check()
    assert refused.value.code == "outbound_refused" and not refused.value.retryable
    assert wordpress.log == []                      # nothing was sent, the credentials included
    monkeypatch.setenv("DIEMCAU_OUTBOUND_ALLOW", "127.0.0.1")
    assert _adapter(wordpress).check()["user"]
    assert wordpress.calls("GET", "users/me") == 1


def test_a_name_that_resolves_to_a_private_address_is_refused_at_connect_time(wordpress, monkeypatch):
    """The check and the connection use the same resolution: a name that passes the URL check and then
    resolves to loopback (DNS rebinding) is refused by the connection itself."""
    real = socket.getaddrinfo
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80))]])

    def rebinding(host, port, *args, **kwargs):
        if host == "wp.rebind.test":
            # First answer public (the URL check), every later one loopback (the connection).
            first = next(answers, None)
            return first or [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.delenv("DIEMCAU_OUTBOUND_ALLOW", raising=False)
    port = wordpress.server.server_port
    with pytest.raises(OutboundRefused):
        guarded_session().get(f"http://wp.rebind.test:{port}/wp-json/wp/v2/users/me", timeout=5)
    assert wordpress.log == []


class Redirector(FakeServer):
    def __init__(self, target: str):
        super().__init__()
        self.target = target

    def handle(self, request):
        if request.path == "/go":
            return _json({}, 302, headers={"Location": self.target})
        return _json({"ok": True}, 200)


def test_a_redirect_to_a_private_address_is_refused(wordpress, monkeypatch):
    # The allowed host sends the client on to another loopback port that is not allowed.
    with Redirector(f"http://127.0.0.2:{wordpress.server.server_port}/wp-json/wp/v2/users/me") as hop:
        monkeypatch.setenv("DIEMCAU_OUTBOUND_ALLOW", "127.0.0.1")
        assert guarded_session().get(f"{hop.url}/ok", timeout=5).json() == {"ok": True}  # allowed itself
        with pytest.raises(OutboundRefused):
            guarded_session().get(f"{hop.url}/go", timeout=5)
        assert requests.get(f"{hop.url}/go", timeout=5, allow_redirects=False).status_code == 302
    assert wordpress.log == []


def test_saving_refuses_a_private_address_and_check_keeps_only_a_status(app, make_user, wordpress, monkeypatch):
    client = app.test_client()
    token = login(client, make_user("admin"))
    form = {"csrf_token": token, "name": "WP nội bộ", "enabled": "1", "setting_site_url": wordpress.url,
            "secret_username": wordpress.USER, "secret_application_password": wordpress.APP_PASSWORD}
    monkeypatch.delenv("DIEMCAU_OUTBOUND_ALLOW", raising=False)
    before = db.session.execute(db.select(db.func.count(Channel.id))).scalar()
    response = client.post("/admin/channels/new/wordpress", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "DIEMCAU_OUTBOUND_ALLOW" in page and "không phải" in page
    assert db.session.execute(db.select(db.func.count(Channel.id))).scalar() == before
    assert wordpress.log == []
    for url in ("http://169.254.169.254/", "http://localhost:6379/"):
        assert client.post("/admin/channels/new/wordpress", data={**form, "setting_site_url": url}).status_code == 400

    monkeypatch.setenv("DIEMCAU_OUTBOUND_ALLOW", "127.0.0.1")
    response = client.post("/admin/channels/new/wordpress", data=form)
    assert response.status_code == 302
    channel_id = int(re.search(r"/admin/channels/(\d+)", response.headers["Location"]).group(1))
    client.post(f"/admin/channels/{channel_id}/check", data={"csrf_token": token})
    db.session.expire_all()
    check = db.session.get(Channel, channel_id).last_check
    assert set(check) == {"ok", "at"} and check["ok"] is True   # no user name, roles or any other reply

    # The allowance withdrawn later: the request-time check refuses, and only the error code is kept.
    monkeypatch.delenv("DIEMCAU_OUTBOUND_ALLOW")
    calls = len(wordpress.log)
    client.post(f"/admin/channels/{channel_id}/check", data={"csrf_token": token})
    db.session.expire_all()
    check = db.session.get(Channel, channel_id).last_check
    assert check["ok"] is False and check["error"] == "outbound_refused" and set(check) == {"ok", "at", "error"}
    assert len(wordpress.log) == calls
