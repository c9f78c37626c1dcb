"""Sessions, remember-me cookies, login throttling and the password policy, through the real app,
database and Redis. Cookies are captured from one test client and replayed on a fresh one, as a thief
who copied them would."""
from __future__ import annotations

import re
import statistics
import time
import uuid
from collections import Counter

import pytest

from orchestrator.db import db
from orchestrator.models import AuditLog, User

PASSWORD = "secret-pass"


def _address() -> str:
    """A client address of the test's own: the per-address login throttle must not mix tests."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def _csrf(client) -> str:
    page = client.get("/login")
    return re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _post_login(client, username: str, password: str, *, address: str | None = None, remember: bool = False):
    if address is not None:
        client.environ_base["REMOTE_ADDR"] = address
    data = {"username": username, "password": password, "csrf_token": _csrf(client)}
    if remember:
        data["remember"] = "1"
    return client.post("/login", data=data)


def _replay(app, name: str, value: str, address: str):
    """GET /panel/ on a fresh client that holds only this one cookie."""
    fresh = _client(app, address)
    fresh.set_cookie(name, value)
    return fresh.get("/panel/")


def _logged_in(response) -> bool:
    return response.status_code == 200


def _cookies(client) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")}


def test_remember_cookie_is_lax_httponly_30_days_and_new_at_each_login(app, make_user):
    user = make_user("technician")
    address = _address()
    values = []
    for _ in range(2):
        client = app.test_client()
        response = _post_login(client, user.username, PASSWORD, address=address, remember=True)
        assert response.status_code == 302
        header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
        assert "HttpOnly" in header and "SameSite=Lax" in header
        expires = re.search(r"Expires=([^;]+)", header).group(1)
        days = (time.mktime(time.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")) - time.mktime(time.gmtime())) / 86400
        assert 29 <= days <= 31
        session_header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
        assert "HttpOnly" in session_header and "SameSite=Lax" in session_header
        values.append(client.get_cookie("remember_token").value)
    assert values[0] != values[1]


def test_old_session_and_remember_cookies_die_at_logout(app, make_user):
    user = make_user("editor")
    address = _address()
    client = app.test_client()
    assert _post_login(client, user.username, PASSWORD, address=address, remember=True).status_code == 302
    stolen = _cookies(client)
    # Both work on another client before the logout (the test would prove nothing otherwise).
    for name, value in stolen.items():
        assert _logged_in(_replay(app, name, value, address)), name

    logout = client.post("/logout", data={"csrf_token": _csrf(client)})
    assert logout.status_code == 302
    for name, value in stolen.items():
        replayed = _replay(app, name, value, address)
        assert replayed.status_code == 302 and "/login" in replayed.headers["Location"], name


def test_old_session_and_remember_cookies_die_at_password_change(app, make_user):
    user = make_user("technician")
    address = _address()
    client = app.test_client()
    assert _post_login(client, user.username, PASSWORD, address=address, remember=True).status_code == 302
    stolen = _cookies(client)
    other_device = app.test_client()
    assert _post_login(other_device, user.username, PASSWORD, address=_address()).status_code == 302

    from orchestrator import core
    from orchestrator.accounts import initial_password_path

    kept = initial_password_path(core.settings(), user.username)  # as the launcher keeps a first password
    kept.parent.mkdir(exist_ok=True)
    kept.write_text(PASSWORD)
    new_password = "hoa-sen-nở-muộn-2026"
    changed = client.post("/account/password", data={
        "csrf_token": _csrf(client), "current_password": PASSWORD, "new_password": new_password,
        "confirm_password": new_password})
    assert changed.status_code == 302
    # This browser stays logged in, with a new remember-me cookie; every other session has ended.
    assert _logged_in(client.get("/panel/"))
    assert client.get_cookie("remember_token").value != stolen["remember_token"]
    assert not kept.exists()
    assert _logged_in(_replay(app, "remember_token", client.get_cookie("remember_token").value, address))
    assert other_device.get("/panel/").status_code == 302
    for name, value in stolen.items():
        assert _replay(app, name, value, address).status_code == 302, name
    assert _post_login(app.test_client(), user.username, PASSWORD, address=_address()).status_code == 401
    assert _post_login(app.test_client(), user.username, new_password, address=_address()).status_code == 302
    assert db.session.execute(db.select(AuditLog).filter_by(action="auth.password_change", user_id=user.id)
                              ).scalar_one_or_none() is not None


@pytest.mark.parametrize("login_id", ["9" * 25 + ".1.abc", "\u00b2.1.abc", "1.99999999999.abc", "1.1", ""])
def test_a_session_naming_an_impossible_user_is_no_user_not_an_error(app, login_id):
    """A signed session whose user id no database could hold (a session written by another version, or
    a leaked secret) logs nobody in: the panel sends to the login page instead of failing."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = login_id
    response = client.get("/panel/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("current, new, confirm, message", [
    (PASSWORD, "ngắn-quá", "ngắn-quá", "ít nhất 10 ký tự"),
    (PASSWORD, "1234567890", "1234567890", "quá phổ biến"),
    (PASSWORD, "matkhau123", "matkhau123", "quá phổ biến"),
    (PASSWORD, "một-mật-khẩu-dài", "một-mật-khẩu-khác", "không khớp"),
    ("not-the-password", "một-mật-khẩu-dài", "một-mật-khẩu-dài", "Mật khẩu hiện tại không đúng"),
])
def test_change_password_screen_refuses_weak_or_wrong_passwords(app, make_user, current, new, confirm, message):
    user = make_user("speaker")
    address = _address()
    client = app.test_client()
    assert _post_login(client, user.username, PASSWORD, address=address).status_code == 302
    assert "Đổi mật khẩu" in client.get("/account/password").get_data(as_text=True)
    response = client.post("/account/password", data={
        "csrf_token": _csrf(client), "current_password": current, "new_password": new, "confirm_password": confirm})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)
    assert client.post("/account/password", data={"current_password": PASSWORD, "new_password": "x" * 12,
                                                  "confirm_password": "x" * 12}).status_code == 400  # no CSRF


def test_eleventh_wrong_password_for_one_account_is_refused_even_when_right(app, make_user):
    user = make_user("technician")
    client = app.test_client()
    for _ in range(10):  # each from another address: only the account's count grows
        assert _post_login(client, user.username, "wrong-password", address=_address()).status_code == 401
    refused = _post_login(client, user.username, PASSWORD, address=_address())
    assert refused.status_code == 429
    assert "Quá nhiều lần nhập sai mật khẩu" in refused.get_data(as_text=True)
    address = _address()
    for _ in range(3):
        assert _post_login(client, user.username, PASSWORD, address=address).status_code == 429
    rows = db.session.execute(db.select(AuditLog).filter_by(action="auth.login_failed")
                              .order_by(AuditLog.id.desc()).limit(200)).scalars()
    reasons = Counter(row.detail["reason"] for row in rows if row.detail.get("username") == user.username)
    # every wrong password, and the refusals once a minute for the throttled account (not one row per guess)
    assert reasons == {"wrong_password": 10, "throttled": 1}
    # Other accounts are untouched.
    assert _post_login(app.test_client(), make_user("technician").username, PASSWORD,
                       address=_address()).status_code == 302


def test_eleventh_wrong_password_from_one_address_is_refused_across_accounts(app, make_user):
    address = _address()
    client = app.test_client()
    for i in range(10):
        name = make_user("editor").username if i % 2 else f"nobody-{uuid.uuid4().hex[:6]}"
        assert _post_login(client, name, "wrong-password", address=address).status_code == 401
    user = make_user("editor")
    assert _post_login(client, user.username, PASSWORD, address=address).status_code == 429
    assert _post_login(app.test_client(), user.username, PASSWORD, address=_address()).status_code == 302


def test_failed_logins_are_audited(app, make_user):
    user = make_user("speaker")
    address = _address()
    client = app.test_client()
    _post_login(client, user.username, "wrong-password", address=address)
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    _post_login(client, ghost, "wrong-password", address=address)
    rows = db.session.execute(db.select(AuditLog).filter_by(action="auth.login_failed")
                              .order_by(AuditLog.id.desc()).limit(50)).scalars()
    mine = {row.detail["username"]: row for row in rows if row.detail.get("address") == address}
    assert mine[user.username].detail["reason"] == "wrong_password" and mine[user.username].target_id == user.id
    assert mine[ghost].detail["reason"] == "unknown_user" and mine[ghost].target_id is None


def test_unknown_usernames_answer_as_slowly_as_known_ones(app, make_user):
    user = make_user("technician")
    client = app.test_client()

    def median_ms(username: str) -> float:
        times = []
        for _ in range(5):
            address = _address()
            start = time.perf_counter()
            assert _post_login(client, username, "wrong-password", address=address).status_code == 401
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    median_ms(user.username)  # warm-up (the dummy hash is made once)
    known, unknown = median_ms(user.username), median_ms(f"nobody-{uuid.uuid4().hex[:6]}")
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_every_cookie_is_secure_when_the_public_address_is_https(app, make_user):
    import dataclasses

    from orchestrator import core
    from web import create_app

    https_app = create_app(dataclasses.replace(core.settings(), public_url="https://diemcau.example.vn"))
    https_app.config.update(TESTING=True)
    client = _client(https_app, _address())
    response = _post_login(client, make_user("editor").username, PASSWORD, remember=True)
    assert response.status_code == 302
    language = client.get("/lang/en")
    cookies = response.headers.getlist("Set-Cookie") + language.headers.getlist("Set-Cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"session", "remember_token", "lang"}
    assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies), cookies
    over_http = _post_login(_client(app, _address()), make_user("editor").username, PASSWORD, remember=True)
    assert not any("Secure" in c for c in over_http.headers.getlist("Set-Cookie"))


def test_launcher_stops_keeping_and_showing_a_first_password_once_changed(app):
    from orchestrator import core
    from orchestrator.accounts import change_password
    from orchestrator.launcher import ensure_accounts

    settings = core.settings()
    shown = {username: password for username, _role, password in ensure_accounts(settings, demo=False)}
    admin = db.session.execute(db.select(User).filter_by(username="admin")).scalar_one()
    kept = settings.data_dir / "initial_passwords" / "admin"
    assert kept.read_text().strip() == shown["admin"] and admin.check_password(shown["admin"])
    change_password(admin, shown["admin"], "cầu-mây-sông-lô-2026")
    assert not kept.exists()
    assert "admin" not in {username for username, _role, _password in ensure_accounts(settings, demo=False)}


def test_wrong_current_passwords_count_as_failed_logins(app, make_user):
    user = make_user("editor")
    client = _client(app, _address())
    assert _post_login(client, user.username, PASSWORD).status_code == 302
    token = _csrf(client)

    def change(current: str):
        return client.post("/account/password", data={"csrf_token": token, "current_password": current,
                                                       "new_password": "núi-đá-tai-mèo-2026",
                                                       "confirm_password": "núi-đá-tai-mèo-2026"})
    for _ in range(10):
        assert change("a-wrong-guess").status_code == 400
    refused = change(PASSWORD)
    assert refused.status_code == 429 and "Quá nhiều lần nhập sai mật khẩu" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_a_session_restored_from_the_remember_cookie_lasts_beyond_its_first_request(app, make_user):
    """Strong session protection must not end the session the remember-me cookie has just restored."""
    address = _address()
    client = _client(app, address)
    assert _post_login(client, make_user("technician").username, PASSWORD, remember=True).status_code == 302
    after_restart = _client(app, address)  # the browser was closed: only the remember-me cookie is left
    after_restart.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert [after_restart.get("/panel/").status_code for _ in range(3)] == [200, 200, 200]
