"""The cutting room through HTTP: who may open it, what it shows, and the JSON API it calls."""
from __future__ import annotations

import re

import pytest

from orchestrator import products as prod
from orchestrator.db import db
from orchestrator.models import Recording, Transcript
from orchestrator.pipeline import ingest_file, run_stage
from tests.conftest import login, run_worker_burst
from tests.media_helpers import make_video

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def owner(make_user):
    return make_user("editor")


@pytest.fixture(scope="module")
def rec(app, owner, tmp_path_factory) -> Recording:
    src = make_video(tmp_path_factory.mktemp("trim-web") / "clip.mp4", duration=6.0, width=640, height=360,
                     audio="speech")
    recording = ingest_file(src, original_filename="Báo cáo quý.mp4", user=owner)
    run_stage(recording.id, "transcode", enqueue=False)
    recording = db.session.get(Recording, recording.id)
    recording.stage("transcribe").status = "done"
    db.session.add(Transcript(recording_id=recording.id, language="vi", version=1,
                              cues=[{"start": 0.5, "end": 2.5, "text": "Xin chào quý vị"}]))
    db.session.commit()
    return recording


def as_user(client, make_user, role: str) -> str:
    return login(client, make_user(role))


def post_json(client, url: str, token: str, body: dict):
    return client.post(url, json=body, headers={**JSON, "X-CSRFToken": token})


def test_only_editors_open_the_cutting_room(client, make_user, rec) -> None:
    url = f"/panel/recordings/{rec.id}/edit"
    assert client.get(url).status_code == 302  # not logged in: to the login page
    as_user(client, make_user, "technician")
    assert client.get(url).status_code == 403
    client.post("/logout", data={"csrf_token": re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/panel/").get_data(as_text=True)).group(1)})
    as_user(client, make_user, "speaker")
    assert client.get(url).status_code == 403


def test_editor_page_has_preview_fps_and_loudness(client, make_user, rec) -> None:
    as_user(client, make_user, "editor")
    page = client.get(f"/panel/recordings/{rec.id}/edit").get_data(as_text=True)
    assert 'data-fps="25.0"' in page and 'data-duration="6.0' in page
    src = re.search(r'<video id="preview" src="([^"]+)"', page).group(1)
    video = client.get(src)
    assert video.status_code == 200 and video.data[4:8] == b"ftyp"
    assert "data-storyboard-url" in page and 'data-sb-count="3"' in page
    assert "LUFS" in page and "Trong chuẩn EBU R128" in page  # measured loudness, in Vietnamese
    assert "Cắt dọc cho mạng xã hội (9:16)" in page
    # The recording page links here and shows the measured loudness too.
    rec_page = client.get(f"/panel/recordings/{rec.id}").get_data(as_text=True)
    assert f'href="/panel/recordings/{rec.id}/edit"' in rec_page and "LUFS" in rec_page
    assert 'class="stop-stage"' in rec_page


def test_bad_trim_gets_a_vietnamese_message(client, make_user, rec) -> None:
    token = as_user(client, make_user, "editor")
    r = post_json(client, f"/panel/recordings/{rec.id}/trim", token, {"in_s": 2, "out_s": 60})
    assert r.status_code == 400
    assert r.get_json()["error"] == "trim_out_of_range"
    assert "nằm ngoài video" in r.get_json()["message"]
    r = post_json(client, f"/panel/recordings/{rec.id}/trim", token, {"cuts": [[0, 5.9]]})
    assert r.get_json()["error"] == "trim_empty"


def test_state_changes_need_the_csrf_token(client, make_user, rec) -> None:
    as_user(client, make_user, "editor")
    r = client.post(f"/panel/recordings/{rec.id}/trim", json={"in_s": 1}, headers=JSON)
    assert r.status_code == 400
    assert not db.session.execute(db.select(prod.MediaProduct).filter_by(recording_id=rec.id)).first()


def test_social_cut_over_90_seconds_is_refused(client, make_user, rec) -> None:
    token = as_user(client, make_user, "editor")
    r = post_json(client, f"/panel/recordings/{rec.id}/social-cuts", token, {"start_s": 0, "end_s": 95})
    assert r.status_code == 400 and r.get_json()["error"] in ("range_too_long", "trim_out_of_range")
    r = post_json(client, f"/panel/recordings/{rec.id}/social-cuts", token,
                  {"start_s": 1, "end_s": 3, "mode": "stretch"})
    assert r.status_code == 400 and r.get_json()["error"] == "bad_mode"


def test_queue_list_and_cancel_a_trim(client, make_user, rec) -> None:
    token = as_user(client, make_user, "editor")
    r = post_json(client, f"/panel/recordings/{rec.id}/trim", token, {"in_s": 1, "out_s": 5, "cuts": [[2, 3]]})
    assert r.status_code == 202, r.get_json()
    created = r.get_json()
    assert created["params"]["keep"] == [[1.0, 2.0], [3.0, 5.0]] and created["status_label"] == "Trong hàng đợi"
    # A second trim while the first is pending is refused.
    again = post_json(client, f"/panel/recordings/{rec.id}/trim", token, {"in_s": 1})
    assert again.status_code == 409 and again.get_json()["error"] == "edit_busy"
    listing = client.get(f"/panel/recordings/{rec.id}/products", headers=JSON).get_json()
    assert listing["products"][0]["id"] == created["id"] and listing["timeline"] is None
    stop = client.post(created["cancel_url"], headers={**JSON, "X-CSRFToken": token})
    assert stop.status_code == 200 and stop.get_json()["status"] == "cancelled"
    assert client.post(created["cancel_url"], headers={**JSON, "X-CSRFToken": token}).status_code == 409
    run_worker_burst(client.application, ("media",))
    db.session.expire_all()
    assert db.session.get(prod.MediaProduct, created["id"]).status == "cancelled"


def test_social_cut_download_is_checked(client, make_user, rec, owner) -> None:
    token = login(client, owner)
    r = post_json(client, f"/panel/recordings/{rec.id}/social-cuts", token,
                  {"start_s": 0.5, "end_s": 3.5, "mode": "centre", "language": "vi"})
    assert r.status_code == 202, r.get_json()
    run_worker_burst(client.application, ("media",))
    listing = client.get(f"/panel/recordings/{rec.id}/products", headers=JSON).get_json()
    done = next(p for p in listing["products"] if p["id"] == r.get_json()["id"])
    assert done["status"] == "done" and done["result"]["cues"] == 1
    download = client.get(done["download_url"])
    assert download.status_code == 302
    file = client.get(download.headers["Location"])
    assert file.status_code == 200 and "attachment" in file.headers["Content-Disposition"]
    # A speaker who is no party of the recording cannot tell its files from ones that do not exist.
    as_user(client, make_user, "speaker")
    assert client.get(done["download_url"]).status_code == 404


def test_stopping_a_stage_that_is_not_running(client, make_user, rec) -> None:
    token = as_user(client, make_user, "technician")
    r = client.post(f"/panel/recordings/{rec.id}/stages/transcode/cancel", headers={**JSON, "X-CSRFToken": token})
    assert r.status_code == 409 and r.get_json()["error"] == "nothing_to_cancel"
    form = client.post(f"/panel/recordings/{rec.id}/stages/transcode/cancel", data={"csrf_token": token})
    assert form.status_code == 302 and form.headers["Location"].endswith(f"/panel/recordings/{rec.id}")
    assert client.post("/panel/recordings/999999/stages/transcode/cancel", data={"csrf_token": token}).status_code \
        == 404

