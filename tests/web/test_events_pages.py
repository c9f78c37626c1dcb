"""Pages and JSON API of events, sites, invitations, the join page and the wall: permissions per role,
clear messages for bad input, QR codes that decode, calendars that parse, documents checked by content."""
from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from icalendar import Calendar

from orchestrator.db import db
from orchestrator.invitations import check_join, join_token
from orchestrator.models import AuditLog, Event
from orchestrator.scheduling import EventInput, Participation, create_event, to_local
from tests.conftest import login
from tests.orchestrator.test_scheduling_rules import future, make_tree

MINI_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def docx_bytes() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.fixture
def scheduled(app, make_user):
    t = make_tree()
    tech = make_user("technician")
    start = future(100 + uuid.uuid4().int % 300)
    event = create_event(tech, EventInput(kind="conference", title="Hội nghị trực tuyến", starts_at=start,
                                          ends_at=start + timedelta(hours=2), host_site_id=t["P"].id,
                                          site_ids=[t[c].id for c in ("P", "D1", "C11", "C12")]))[0]
    return event, t, tech


def join_path(event, site) -> str:
    p = db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=site.id)).scalar_one()
    return f"/join/{event.id}/{site.id}/{join_token(p)}"


@pytest.mark.parametrize("role, status", [("speaker", 403), ("editor", 403), ("technician", 200), ("admin", 200)])
def test_who_may_schedule(client, make_user, role, status):
    login(client, make_user(role))
    assert client.get("/events/new").status_code == status
    assert client.post("/api/events", json={}, headers={"X-CSRFToken": _csrf(client)}).status_code in (
        (403,) if status == 403 else (400,))


def _csrf(client) -> str:
    page = client.get("/events/")
    match = re.search(rb'name="csrf-token" content="([^"]+)"', page.data)
    return match.group(1).decode() if match else ""


def test_anonymous_is_sent_to_login(client, scheduled):
    event, _t, _tech = scheduled
    for url in ("/events/", f"/events/{event.id}", f"/events/{event.id}/wall", "/sites/",
                f"/events/{event.id}/invitations"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    assert client.get(f"/api/events/{event.id}").status_code in (302, 401)


def test_speaker_sees_only_own_reports(client, make_user, scheduled):
    event, t, tech = scheduled
    speaker = make_user("speaker")
    start = future(30 + uuid.uuid4().int % 60, 15)
    report = create_event(tech, EventInput(kind="report", title="Báo cáo chuyên đề", starts_at=start,
                                           ends_at=start + timedelta(hours=1), speaker_id=speaker.id,
                                           studio_site_id=t["D2"].id))[0]
    login(client, speaker)
    assert client.get(f"/events/{report.id}").status_code == 200
    assert client.get(f"/events/{event.id}").status_code == 404
    assert client.get(f"/events/{report.id}/wall").status_code == 403
    assert client.post(f"/api/events/{report.id}/start", headers={"X-CSRFToken": _csrf(client)}).status_code == 403
    ids = [e["id"] for e in client.get("/api/events").get_json()["events"]]
    assert report.id in ids and event.id not in ids


def test_conference_form_creates_event_and_refuses_conflicts(client, make_user, app):
    t = make_tree()
    tech = make_user("technician")
    token = login(client, tech)
    start = to_local(future(200 + uuid.uuid4().int % 100))
    form = {"csrf_token": token, "kind": "conference", "title": "Sơ kết quý", "new_series": "Giao ban quý",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
            "host_site_id": t["P"].id, "site_ids": [t["D1"].id, t["C11"].id], "monthly_count": "1"}
    page = client.get("/events/new?kind=conference")
    assert page.status_code == 200 and b"pick-tree" in page.data
    response = client.post("/events/new?kind=conference", data=form)
    assert response.status_code == 302, response.data[:2000]
    event_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    event = db.session.get(Event, event_id)
    assert event.series.name == "Giao ban quý" and to_local(event.starts_at).hour == start.hour
    again = client.post("/events/new?kind=conference", data={**form, "title": "Trùng giờ",
                                                             "host_site_id": t["D2"].id, "site_ids": [t["C11"].id]})
    assert again.status_code == 400
    text = again.data.decode()
    assert "Sơ kết quý" in text and t["C11"].name in text and "đã có lịch" in text
    past = client.post("/events/new?kind=conference", data={**form, "starts_at": "2020-01-01T08:00",
                                                            "ends_at": "2020-01-01T09:00"})
    assert past.status_code == 400 and "đã qua" in past.data.decode()
    backwards = client.post("/events/new?kind=conference", data={**form, "ends_at": form["starts_at"]})
    assert backwards.status_code == 400 and "sau thời điểm bắt đầu" in backwards.data.decode()


def test_spoken_language_can_be_left_to_detection(client, make_user, app):
    t = make_tree()
    token = login(client, make_user("technician"))
    page = client.get("/events/new?kind=conference").get_data(as_text=True)
    assert 'value="auto"' in page and "Tự nhận dạng từ bản ghi" in page
    start = to_local(future(400 + uuid.uuid4().int % 100))
    form = {"csrf_token": token, "kind": "conference", "title": "Hội thảo quốc tế", "language": "auto",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "host_site_id": t["P"].id, "site_ids": [t["D1"].id], "monthly_count": "1"}
    response = client.post("/events/new?kind=conference", data=form)
    assert response.status_code == 302, response.data[:2000]
    event = db.session.get(Event, int(response.headers["Location"].rstrip("/").split("/")[-1]))
    assert event.language == "auto"
    bad = client.post("/events/new?kind=conference", data={**form, "language": "<b>x</b>", "title": "Sai"})
    assert bad.status_code == 400 and "Hãy chọn ngôn ngữ nói trong danh sách." in bad.data.decode()


def test_api_conflict_and_admin_override(client, make_user, scheduled):
    event, t, _tech = scheduled
    body = {"kind": "conference", "title": "Chồng lịch", "host_site_id": t["D2"].id, "site_ids": [t["C12"].id],
            "starts_at": (event.starts_at + timedelta(minutes=30)).isoformat(),
            "ends_at": (event.ends_at + timedelta(minutes=30)).isoformat()}
    login(client, make_user("technician"))
    response = client.post("/api/events", json={**body, "override": True}, headers={"X-CSRFToken": _csrf(client)})
    assert response.status_code == 409
    data = response.get_json()
    assert data["error"] == "conflict" and data["conflicts"][0]["event_id"] == event.id
    assert "Hội nghị trực tuyến" in data["message"]
    client.post("/logout", headers={"X-CSRFToken": _csrf(client)})
    admin = make_user("admin")
    login(client, admin)
    response = client.post("/api/events", json={**body, "override": True}, headers={"X-CSRFToken": _csrf(client)})
    assert response.status_code == 201
    new_id = response.get_json()["events"][0]["id"]
    assert db.session.execute(db.select(AuditLog).filter_by(action="event.conflict_override", target_id=new_id)
                              ).scalar_one().user_id == admin.id


def test_calendar_views(client, make_user, scheduled):
    event, _t, _tech = scheduled
    login(client, make_user("editor"))
    day = to_local(event.starts_at).date().isoformat()
    for view in ("month", "week", "list"):
        page = client.get(f"/events/?view={view}&date={day}")
        assert page.status_code == 200 and "Hội nghị trực tuyến" in page.data.decode(), view
    assert client.get("/events/?view=month&date=garbage").status_code == 200


def test_invitations_qr_and_calendars(client, scheduled):
    import zxingcpp
    from PIL import Image

    event, t, tech = scheduled
    login(client, tech)
    sheet = client.get(f"/events/{event.id}/invitations")
    assert sheet.status_code == 200
    html = sheet.data.decode()
    assert html.count('class="invite-page"') == 4 and html.count("<svg") == 4
    links = re.findall(r'<p class="link"><a href="([^"]+)"', html)
    assert len(links) == 4 and all(f"/join/{event.id}/" in link for link in links)
    assert client.get(f"/events/{event.id}/invitations?layout=table").data.decode().count("<svg") == 4
    png = client.get(f"/events/{event.id}/sites/{t['C11'].id}/qr.png")
    assert png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    # tokens carry their signing time, so compare the path and check the token itself
    assert decoded and f"/join/{event.id}/{t['C11'].id}/" in decoded[0].text
    assert check_join(decoded[0].text.rsplit("/", 1)[1], event_id=event.id, site_id=t["C11"].id)
    svg = client.get(f"/events/{event.id}/sites/{t['C11'].id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    cal = Calendar.from_ical(client.get(f"/events/{event.id}/event.ics").data)
    vevent = cal.walk("VEVENT")[0]
    assert str(vevent["SUMMARY"]) == "Hội nghị trực tuyến" and vevent.decoded("DTSTART") == event.starts_at
    api = client.get(f"/api/events/{event.id}/invitations").get_json()["invitations"]
    assert {i["site_id"] for i in api} == {t[c].id for c in ("P", "D1", "C11", "C12")}

    edit = client.get(f"/sites/{t['C11'].id}").data.decode()
    feed_url = re.search(r'readonly value="([^"]+)"', edit).group(1).replace("&amp;", "&")
    client.post("/logout", headers={"X-CSRFToken": _csrf(client)})
    feed = client.get(feed_url.split("localhost", 1)[-1])
    assert feed.status_code == 200
    items = Calendar.from_ical(feed.data).walk("VEVENT")
    urls = [str(i["URL"]) for i in items if f"/join/{event.id}/{t['C11'].id}/" in str(i["URL"])]
    assert len(urls) == 1 and check_join(urls[0].rsplit("/", 1)[1]).event.id == event.id
    assert client.get(f"/sites/{t['C11'].id}/feed.ics?token=forged").status_code == 404
    assert client.get(f"/sites/{t['C12'].id}/feed.ics?" + feed_url.split("?", 1)[1]).status_code == 404


def test_revoking_a_site_link_ends_its_calendar_feed_url(client, scheduled):
    """The feed lists the site's current join links: once a link is revoked, the old feed URL must not
    hand out the new one."""
    event, t, tech = scheduled
    site = t["C11"]

    def feed_path() -> str:
        edit = client.get(f"/sites/{site.id}").get_data(as_text=True)
        url = re.search(r'readonly value="([^"]+)"', edit).group(1).replace("&amp;", "&")
        return url.split("localhost", 1)[-1]

    token = login(client, tech)
    old_feed = feed_path()
    before = client.get(old_feed)
    assert before.status_code == 200 and f"/join/{event.id}/{site.id}/" in before.get_data(as_text=True)
    client.post(f"/events/{event.id}/sites/{site.id}/revoke", data={"csrf_token": token})
    new_feed = feed_path()
    client.post("/logout", headers={"X-CSRFToken": token})

    after = client.get(old_feed)
    assert after.status_code in (404, 410) and "/join/" not in after.get_data(as_text=True)
    fresh = client.get(new_feed)
    assert fresh.status_code == 200
    urls = [str(i["URL"]) for i in Calendar.from_ical(fresh.data).walk("VEVENT")
            if f"/join/{event.id}/{site.id}/" in str(i["URL"])]
    assert len(urls) == 1 and check_join(urls[0].rsplit("/", 1)[1]).site.id == site.id


def test_watch_page_refuses_a_revoked_site_link(client, scheduled):
    event, t, tech = scheduled
    token = join_path(event, t["C12"]).rsplit("/", 1)[1]
    assert client.get(f"/studio/watch/{event.id}?token={token}").status_code == 200
    login(client, tech)
    client.post(f"/events/{event.id}/sites/{t['C12'].id}/revoke", data={"csrf_token": _csrf(client)})
    client.post("/logout", headers={"X-CSRFToken": _csrf(client)})
    revoked = client.get(f"/studio/watch/{event.id}?token={token}")
    assert revoked.status_code == 410 and "được thay bằng liên kết mới" in revoked.get_data(as_text=True)
    assert client.get(f"/studio/watch/{event.id}?token=forged").status_code == 404
    assert client.get(f"/studio/watch/{event.id + 1}?token={token}").status_code in (403, 410)


def test_join_pages_play_from_the_media_node_of_their_branch(client, scheduled, app):
    """Province → district → commune: a district's relay node serves its communes' join pages; a
    site with no node on its branch plays from the origin."""
    import re

    event, t, tech = scheduled
    origin = app.config.get("MEDIA_SERVER_URL") or __import__("orchestrator.core", fromlist=["core"]).settings() \
        .media_server_url

    def played_from(site) -> str:
        page = client.get(join_path(event, site)).get_data(as_text=True)
        return re.search(r'data-media-url="([^"]*)"', page).group(1)

    assert played_from(t["C11"]) == origin
    token = login(client, tech)
    edit = client.post(f"/sites/{t['D1'].id}", data={"csrf_token": token, "room_name": "",
                                                          "media_node_url": "https://relay-d1.example.vn:8089/"})
    assert edit.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(t["D1"]), t["D1"].id).media_node_url == "https://relay-d1.example.vn:8089"
    form = client.get(f"/sites/{t['C11'].id}").get_data(as_text=True)
    assert "https://relay-d1.example.vn:8089" in form  # the commune shows the node it inherits
    bad = client.post(f"/sites/{t['C11'].id}", data={"csrf_token": token, "media_node_url": "ftp://x"})
    assert bad.status_code == 400 and "https://relay-huyen.example.vn:8089" in bad.get_data(as_text=True)
    client.post("/logout", headers={"X-CSRFToken": token})
    assert played_from(t["C11"]) == "https://relay-d1.example.vn:8089"   # below D1: the district's relay
    assert played_from(t["D1"]) == "https://relay-d1.example.vn:8089"
    assert played_from(t["P"]) == origin                                 # above it: the origin


def test_join_page_messages(client, scheduled):
    event, t, tech = scheduled
    path = join_path(event, t["C11"])
    page = client.get(path)
    assert page.status_code == 200 and t["C11"].name in page.data.decode()
    assert page.headers["Referrer-Policy"] == "no-referrer"
    other = client.get(path.replace(f"/{t['C11'].id}/", f"/{t['C12'].id}/", 1))
    assert other.status_code == 403 and "thuộc về điểm cầu khác" in other.data.decode()
    bad = client.get(path[:-4] + "abcd")
    assert bad.status_code == 404 and "không hợp lệ" in bad.data.decode()
    login(client, tech)
    client.post(f"/events/{event.id}/sites/{t['C11'].id}/revoke", data={"csrf_token": _csrf(client)})
    client.post("/logout", headers={"X-CSRFToken": _csrf(client)})
    revoked = client.get(path)
    assert revoked.status_code == 410 and "được thay bằng liên kết mới" in revoked.data.decode()
    api = client.post(path.replace("/join/", "/api/join/") + "/report", json={"state": "joined"})
    assert api.status_code == 410 and api.get_json()["error"] == "revoked"


def test_join_api_reports_and_attendance(client, scheduled):
    event, t, _tech = scheduled
    api = join_path(event, t["C12"]).replace("/join/", "/api/join/")
    assert client.get("/api/join/ping").status_code == 200
    info = client.get(api).get_json()
    assert info["site"]["id"] == t["C12"].id and info["event"]["id"] == event.id
    ok = client.post(api + "/report", json={"state": "joined", "rtt_ms": 31.5})
    assert ok.status_code == 200 and ok.get_json()["event_status"] == "scheduled"
    assert client.post(api + "/report", json={"state": "teleported"}).status_code == 400
    neg = client.post(api + "/attendance", json={"attendance": -1})
    assert neg.status_code == 400 and "không thể là số âm" in neg.get_json()["message"]
    absurd = client.post(api + "/attendance", json={"attendance": 100000})
    assert absurd.status_code == 400 and absurd.get_json()["error"] == "attendance_absurd"
    good = client.post(api + "/attendance", json={"attendance": 37})
    assert good.status_code == 200 and good.get_json()["attendance"] == 37
    db.session.expire_all()
    p = db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=t["C12"].id)).scalar_one()
    assert p.attendance == 37 and p.joined_at is not None


def test_documents_checked_by_content_and_downloaded_with_the_link(client, scheduled, make_user):
    event, t, tech = scheduled
    token = login(client, tech)
    files = {"document": [(io.BytesIO(MINI_PDF), "Nghị quyết 57.pdf"), (io.BytesIO(docx_bytes()), "Đề cương.docx")]}
    response = client.post(f"/events/{event.id}/documents", data={"csrf_token": token, **files},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    fake = client.post(f"/api/events/{event.id}/documents", data={"document": (io.BytesIO(b"MZ\x90\x00 not a pdf"),
                                                                               "virus.pdf")},
                       headers={"X-CSRFToken": token}, content_type="multipart/form-data")
    assert fake.status_code == 400 and fake.get_json()["error"] == "bad_type"
    docs = client.get(f"/api/events/{event.id}/documents").get_json()["documents"]
    assert [(d["filename"], d["kind"]) for d in docs] == [("Nghị quyết 57.pdf", "pdf"), ("Đề cương.docx", "docx")]
    client.post("/logout", headers={"X-CSRFToken": token})
    # the join page lists them and lets the site download them; nobody else
    path = join_path(event, t["C11"])
    assert "Nghị quyết 57.pdf" in client.get(path).data.decode()
    download = client.get(f"{path}/documents/{docs[0]['id']}")
    assert download.status_code == 302
    assert client.get(download.headers["Location"]).data == MINI_PDF
    assert client.get(f"/events/{event.id}/documents/{docs[0]['id']}").status_code == 302  # to login
    assert client.get(f"{path[:-4]}xxxx/documents/{docs[0]['id']}").status_code == 404
    login(client, make_user("speaker"))
    assert client.get(f"/events/{event.id}/documents/{docs[0]['id']}").status_code == 404


def test_start_stop_permissions(client, make_user, scheduled):
    event, _t, _tech = scheduled
    for role in ("speaker", "editor"):
        login(client, make_user(role))
        assert client.post(f"/api/events/{event.id}/start", headers={"X-CSRFToken": _csrf(client)}).status_code == 403
        client.post("/logout", headers={"X-CSRFToken": _csrf(client)})
    login(client, make_user("technician"))
    csrf = _csrf(client)
    assert client.post(f"/api/events/{event.id}/stop", headers={"X-CSRFToken": csrf}).status_code == 409
    assert client.post(f"/api/events/{event.id}/start", headers={"X-CSRFToken": csrf}).get_json()["status"] == "live"
    assert client.post(f"/api/events/{event.id}/stop", headers={"X-CSRFToken": csrf}).get_json()["status"] == "ended"


def test_wall_stream_pushes_reports(client, make_user, scheduled):
    event, t, tech = scheduled
    login(client, tech)
    assert client.get(f"/events/{event.id}/wall").status_code == 200
    response = client.get(f"/events/{event.id}/wall/stream", buffered=False)
    assert response.mimetype == "text/event-stream"
    frames = iter(response.response)
    first = next(frames).decode()
    assert "event: snapshot" in first
    snapshot = json.loads(first.split("data: ", 1)[1])
    assert snapshot["totals"]["sites"] == 4
    api = join_path(event, t["D1"]).replace("/join/", "/api/join/")

    def report_later():
        time.sleep(0.3)
        with client.application.test_client() as other:
            other.post(api + "/report", json={"state": "joined", "rtt_ms": 12})
    threading.Thread(target=report_later).start()
    deadline = time.monotonic() + 10
    update = None
    while time.monotonic() < deadline and update is None:
        frame = next(frames).decode()
        if frame.startswith("event: update"):
            update = json.loads(frame.split("data: ", 1)[1])
    response.close()
    assert update and update["items"][0]["site_id"] == t["D1"].id and update["items"][0]["rtt_ms"] == 12


def test_sites_import_by_admin_only(client, make_user):
    u = uuid.uuid4().hex[:6]
    csv = f"code,name,level,parent_code\nW{u},Tỉnh W,province,\nW2{u},Huyện W,district,MISSING{u}\n".encode()
    login(client, make_user("technician"))
    assert client.post("/api/sites/import", data={"file": (io.BytesIO(csv), "a.csv")}, headers={
        "X-CSRFToken": _csrf(client)}, content_type="multipart/form-data").status_code == 403
    client.post("/logout", headers={"X-CSRFToken": _csrf(client)})
    token = login(client, make_user("admin"))
    bad = client.post("/sites/import", data={"csrf_token": token, "file": (io.BytesIO(csv), "a.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "không có trong tệp" in bad.data.decode()
    good = client.post("/api/sites/import", data={"file": (io.BytesIO(csv.replace(b"MISSING", b"W")), "a.csv")},
                       headers={"X-CSRFToken": token}, content_type="multipart/form-data")
    assert good.status_code == 200 and good.get_json()["created"] == 2
    assert client.get(f"/sites/?q=W2{u}").status_code == 200
