"""Logins, roles, CSRF and languages, through the real app and database."""
from __future__ import annotations

import re

from tests.conftest import login


def test_login_page_is_vietnamese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in page and 'lang="vi"' in page
    client.get("/lang/en")
    page = client.get("/login").get_data(as_text=True)
    assert "Log in" in page and 'lang="en"' in page


def test_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user("technician")
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    response = client.post("/login", data={"username": user.username, "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)


def test_forms_without_csrf_token_are_refused(client, make_user):
    user = make_user("technician")
    login(client, user)
    response = client.post("/panel/upload", data={}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"


def test_login_form_itself_needs_csrf(client, make_user):
    user = make_user("technician")
    response = client.post("/login", data={"username": user.username, "password": "secret-pass"})
    assert response.status_code == 400


def test_panel_needs_login(client):
    response = client.get("/panel/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_roles_guard_upload_and_admin(client, make_user):
    speaker = make_user("speaker")
    login(client, speaker)
    assert client.get("/panel/upload").status_code == 403
    assert client.get("/admin/rq/").status_code == 403

    tech_client = client.application.test_client()
    login(tech_client, make_user("technician"))
    assert tech_client.get("/panel/upload").status_code == 200
    assert tech_client.get("/admin/rq/").status_code == 403

    admin_client = client.application.test_client()
    login(admin_client, make_user("admin"))
    assert admin_client.get("/admin/rq/").status_code == 200
    # rq-dashboard actions need the CSRF token its page hands to its script: a cross-site form has none
    assert admin_client.post("/admin/rq/job/nonexistent/delete").status_code == 400


def test_open_redirect_after_login_is_ignored(client, make_user):
    user = make_user("editor")
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    response = client.post("/login?next=https://evil.example/", data={
        "username": user.username, "password": "secret-pass", "csrf_token": token})
    assert response.headers["Location"].endswith("/panel/")


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    assert "Trang này không tồn tại" in response.get_data(as_text=True)
