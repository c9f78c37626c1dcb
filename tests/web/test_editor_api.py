"""The transcript editor's pages and saving: roles, versions, re-rendered subtitles, bad edits."""
from __future__ import annotations

import json
import re

import pytest

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import AuditLog, Event, Recording, TranscriptCue
from orchestrator.models import Transcript as TranscriptRow
from tests.conftest import login
from tests.transcript_helpers import make_transcribed_recording


@pytest.fixture
def recording(app):
    rec = make_transcribed_recording()
    return rec.id


def _page_data(html: str) -> dict:
    return json.loads(re.search(r'<script id="editor-data" type="application/json">(.*?)</script>', html, re.S)
                      .group(1))


def _save(client, token, rec_id, cues, base, language="vi"):
    return client.post(f"/panel/recordings/{rec_id}/transcript/{language}", json={"base_version": base, "cues": cues},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


def test_only_editors_and_technicians_open_the_editor(app, make_user, recording):
    anonymous = app.test_client()
    assert anonymous.get(f"/panel/recordings/{recording}/transcript/vi").status_code == 302  # to the login page
    speaker = app.test_client()
    token = login(speaker, make_user("speaker"))
    assert speaker.get(f"/panel/recordings/{recording}/transcript/vi").status_code == 403
    assert _save(speaker, token, recording, [], 1).status_code == 403
    for role in ("editor", "technician", "admin"):
        client = app.test_client()
        login(client, make_user(role))
        assert client.get(f"/panel/recordings/{recording}/transcript").status_code == 302
        page = client.get(f"/panel/recordings/{recording}/transcript/vi")
        assert page.status_code == 200, role
    assert client.get("/panel/recordings/999999/transcript/vi").status_code == 404
    assert client.get(f"/panel/recordings/{recording}/transcript/fr").status_code == 404


def test_page_carries_cues_with_low_confidence_words(app, make_user, recording):
    client = app.test_client()
    login(client, make_user("editor"))
    html = client.get(f"/panel/recordings/{recording}/transcript/vi").get_data(as_text=True)
    data = _page_data(html)
    assert data["version"] == 1 and data["threshold"] == 0.5
    assert data["versions"][0]["source"] == "automatic"
    words = [w for cue in data["cues"] for w in cue.get("words", [])]
    unsure = [w["t"] for w in words if w["p"] < data["threshold"]]
    assert unsure == ["Lũng", "Cú"]
    assert "Nghị quyết" in " ".join(c["text"] for c in data["cues"])
    assert 'id="editor-no-video"' in html


def test_saving_keeps_versions_and_re_renders_subtitles(app, make_user, recording):
    editor = make_user("editor")
    client = app.test_client()
    token = login(client, editor)
    cues = _page_data(client.get(f"/panel/recordings/{recording}/transcript/vi").get_data(as_text=True))["cues"]
    cues[1]["text"] = "Xã Lũng Cú đón chào\nnăm mới."  # the editor fixes the text (two lines)
    cues[1].pop("words", None)
    cues[0]["start"], cues[0]["end"] = 0.4, 3.0
    response = _save(client, token, recording, cues, 1)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["version"] == 2 and "2" in body["message"]
    assert [v["version"] for v in body["versions"]] == [2, 1]

    db.session.expire_all()
    rows = {r.version: r for r in db.session.execute(db.select(TranscriptRow).filter_by(
        recording_id=recording, language="vi")).scalars()}
    assert rows[1].source == "automatic" and rows[1].created_by_id is None  # the machine's version is kept
    assert rows[2].source == "edited" and rows[2].created_by_id == editor.id and rows[2].created_at
    assert rows[2].cues[0]["start"] == 0.4 and "words" in rows[2].cues[0]  # unchanged text keeps confidences
    assert "words" not in rows[2].cues[1]
    assert "Lũng Cú đón chào năm mới" in rows[2].text

    rec = db.session.get(Recording, recording)
    vtt = core.storage().get_bytes(rec.asset("subtitles_vtt", "vi").storage_key).decode()
    assert "00:00:00.400 --> 00:00:03.000" in vtt and "Xã Lũng Cú đón chào\nnăm mới." in vtt
    srt = core.storage().get_bytes(rec.asset("subtitles_srt", "vi").storage_key).decode()
    assert "00:00:00,400 --> 00:00:03,000" in srt
    indexed = db.session.execute(db.select(TranscriptCue.text).filter_by(recording_id=recording, language="vi")
                                 .order_by(TranscriptCue.position)).scalars().all()
    assert indexed[1] == "Xã Lũng Cú đón chào năm mới."
    audit = db.session.execute(db.select(AuditLog).filter_by(action="transcript.edit", target_id=recording)
                               ).scalars().all()
    assert audit and audit[-1].user_id == editor.id and audit[-1].detail["version"] == 2

    # The older version can be read (and restored by saving it again as the newest).
    old = client.get(f"/panel/recordings/{recording}/transcript/vi/versions/1").get_json()
    assert old["source"] == "automatic" and old["cue_list"][1]["text"].startswith("Xã Lũng Cú")
    assert _save(client, token, recording, old["cue_list"], 2).status_code == 201
    db.session.expire_all()
    assert db.session.execute(db.select(db.func.max(TranscriptRow.version)).filter_by(
        recording_id=recording, language="vi")).scalar() == 3


def test_a_stale_save_is_refused_not_overwriting(app, make_user, recording):
    first, second = app.test_client(), app.test_client()
    t1, t2 = login(first, make_user("editor")), login(second, make_user("technician"))
    cues = _page_data(first.get(f"/panel/recordings/{recording}/transcript/vi").get_data(as_text=True))["cues"]
    assert _save(first, t1, recording, cues[:1], 1).status_code == 201
    late = _save(second, t2, recording, cues, 1)
    assert late.status_code == 409
    assert late.get_json()["error"] == "version_conflict" and "2" in late.get_json()["message"]
    db.session.expire_all()
    assert len(db.session.execute(db.select(TranscriptRow).filter_by(recording_id=recording, language="vi")
                                  ).scalars().all()) == 2


@pytest.mark.parametrize(("cues", "code"), [
    ([{"start": 2.0, "end": 1.0, "text": "ngược"}], "cue_time_invalid"),
    ([{"start": 0.0, "end": 99.0, "text": "quá dài"}], "cue_time_invalid"),  # past the end of the video
    ([{"start": "x", "end": 1.0, "text": "a"}], "cue_time_invalid"),
    ([{"start": 0.0, "end": 1.0, "text": "   "}], "cue_empty"),
    ([{"start": 0.0, "end": 2.0, "text": "một"}, {"start": 1.0, "end": 3.0, "text": "hai"}], "cue_overlap"),
    ([{"start": 0.0, "end": 1.0, "text": "x" * 600}], "cue_too_long"),
    ("not a list", "cues_invalid"),
])
def test_bad_edits_are_refused_with_a_clear_message(app, make_user, recording, cues, code):
    client = app.test_client()
    token = login(client, make_user("editor"))
    response = _save(client, token, recording, cues, 1)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == code and body["message"] and "Traceback" not in body["message"]
    db.session.expire_all()
    assert db.session.execute(db.select(db.func.max(TranscriptRow.version)).filter_by(
        recording_id=recording, language="vi")).scalar() == 1


def test_messages_are_vietnamese_by_default(app, make_user, recording):
    client = app.test_client()
    token = login(client, make_user("editor"))
    body = _save(client, token, recording, [{"start": 0.0, "end": 1.0, "text": ""}], 1).get_json()
    assert body["message"].startswith("Câu phụ đề 1")


def test_without_csrf_token_nothing_is_saved(app, make_user, recording):
    client = app.test_client()
    login(client, make_user("editor"))
    response = client.post(f"/panel/recordings/{recording}/transcript/vi", json={"base_version": 1, "cues": []})
    assert response.status_code == 400


def test_english_track_is_edited_on_its_own(app, make_user):
    rec = make_transcribed_recording(english=True)
    client = app.test_client()
    token = login(client, make_user("editor"))
    html = client.get(f"/panel/recordings/{rec.id}/transcript/en").get_data(as_text=True)
    assert "English" in html and "Tiếng Việt" in html
    cues = _page_data(html)["cues"]
    cues[0]["text"] = "The resolution of the Party."
    assert _save(client, token, rec.id, cues, 1, language="en").status_code == 201
    db.session.expire_all()
    rec = db.session.get(Recording, rec.id)
    assert "The resolution of the Party." in core.storage().get_bytes(rec.asset("subtitles_vtt", "en").storage_key
                                                                      ).decode()
    assert "Nghị quyết" in core.storage().get_bytes(rec.asset("subtitles_vtt", "vi").storage_key).decode()


def test_glossary_is_saved_on_the_event(app, make_user, recording):
    client = app.test_client()
    token = login(client, make_user("technician"))
    response = client.post(f"/panel/recordings/{recording}/transcript/glossary",
                           data={"glossary": "Nghị quyết\n Lũng Cú \n\nnghị quyết\nĐảng bộ tỉnh", "language": "vi",
                                 "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/transcript/vi")
    db.session.expire_all()
    event = db.session.get(Recording, recording).event
    assert db.session.get(Event, event.id).glossary == "Nghị quyết\nLũng Cú\nĐảng bộ tỉnh"
    speaker = app.test_client()
    token = login(speaker, make_user("speaker"))
    assert speaker.post(f"/panel/recordings/{recording}/transcript/glossary",
                        data={"glossary": "x", "csrf_token": token}).status_code == 403


def test_saving_queues_again_a_social_cut_with_these_subtitles_burned_in(app, make_user):
    from orchestrator.models import StageRun
    from orchestrator.products import SOCIAL_CUT, MediaProduct

    rec = make_transcribed_recording()
    db.session.add(StageRun(recording_id=rec.id, stage="transcode", position=1, status="done"))
    core.storage().put_bytes(f"recordings/{rec.id}/media/video.mp4", b"placeholder: the job is only queued here")
    from orchestrator.models import Asset

    db.session.add(Asset(recording_id=rec.id, kind="mp4", storage_key=f"recordings/{rec.id}/media/video.mp4"))
    params = {"start_s": 0.0, "end_s": 8.0, "mode": "centre", "language": "vi", "keep": [[0.0, 8.0]]}
    db.session.add(MediaProduct(recording_id=rec.id, kind=SOCIAL_CUT, status="done", params=params))
    db.session.add(MediaProduct(recording_id=rec.id, kind=SOCIAL_CUT, status="done",
                                params={**params, "language": "en"}))  # other subtitles: not affected
    db.session.commit()
    client = app.test_client()
    token = login(client, make_user("editor"))
    cues = [{"start": 0.5, "end": 3.0, "text": "Nghị quyết của Đảng bộ tỉnh."}]
    assert _save(client, token, rec.id, cues, 1).status_code == 201
    db.session.expire_all()
    queued = db.session.execute(db.select(MediaProduct).filter_by(recording_id=rec.id, status="queued")).scalars()
    queued = list(queued)
    assert len(queued) == 1 and queued[0].params["language"] == "vi" and queued[0].params["end_s"] == 8.0
    from rq import Queue

    # Not this test's job to run it: leave nothing queued for other tests' workers or reconcilers.
    Queue("media", connection=core.redis_connection()).remove(queued[0].rq_job_id)
    queued[0].status = "cancelled"
    db.session.commit()
