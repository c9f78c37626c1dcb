"""Speakers see and download only their own recordings, through short-lived signed URLs; guessing URLs,
tampering with tokens and expired links all fail."""
from __future__ import annotations

import io
import time

import pytest

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Transcript
from tests.conftest import login
from tests.publishing.conftest import make_recording, poster_jpg, small_mp4  # noqa: F401  (fixtures)


@pytest.fixture
def two_speakers(app, make_user, make_recording, small_mp4):  # noqa: F811
    a, b = make_user("speaker"), make_user("speaker")
    rec_a = make_recording(small_mp4, title="Báo cáo của A", user=a)
    rec_b = make_recording(small_mp4, title="Báo cáo chưa phát hành của B", user=b)
    db.session.add(Transcript(recording_id=rec_a.id, language="vi", version=1, text="Xin chào các đồng chí",
                              cues=[{"start": 0.0, "end": 1.5, "text": "Xin chào các đồng chí"},
                                    {"start": 61.0, "end": 63.0, "text": "Báo cáo chuyên đề"}]))
    db.session.commit()
    return a, b, rec_a, rec_b


def _follow(client, response):
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"])


def test_speaker_downloads_every_format_of_their_own_recording(app, two_speakers, small_mp4):  # noqa: F811
    a, _, rec_a, rec_b = two_speakers
    client = app.test_client()
    login(client, a)
    page = client.get("/speaker/").get_data(as_text=True)
    assert "Báo cáo của A" in page and "Báo cáo chưa phát hành của B" not in page
    for label in ("MP4", "VTT (vi)", "SRT (vi)", "TXT (vi)", "DOCX (vi)"):
        assert label in page

    mp4 = _follow(client, client.get(f"/speaker/recordings/{rec_a.id}/download/mp4"))
    assert mp4.status_code == 200 and mp4.data == small_mp4.read_bytes()
    assert "attachment" in mp4.headers["Content-Disposition"] and ".mp4" in mp4.headers["Content-Disposition"]
    vtt = _follow(client, client.get(f"/speaker/recordings/{rec_a.id}/download/vtt/vi"))
    assert vtt.data.startswith(b"WEBVTT")
    srt = _follow(client, client.get(f"/speaker/recordings/{rec_a.id}/download/srt/vi"))
    assert b"-->" in srt.data
    txt = _follow(client, client.get(f"/speaker/recordings/{rec_a.id}/download/txt/vi")).data.decode()
    assert "[0:00] Xin chào các đồng chí" in txt and "[1:01] Báo cáo chuyên đề" in txt
    docx_bytes = _follow(client, client.get(f"/speaker/recordings/{rec_a.id}/download/docx/vi")).data
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(docx_bytes)).paragraphs)
    assert "Báo cáo của A" in text and "Xin chào các đồng chí" in text


def test_another_speakers_files_cannot_be_reached(app, two_speakers):
    a, b, rec_a, rec_b = two_speakers
    client = app.test_client()
    # Anonymous: to the login page.
    assert client.get(f"/speaker/recordings/{rec_b.id}/download/mp4").status_code == 302
    login(client, a)
    for path in (f"/speaker/recordings/{rec_b.id}/download/mp4", f"/speaker/recordings/{rec_b.id}/download/vtt/vi",
                 f"/speaker/recordings/{rec_b.id}/download/txt/vi", "/speaker/recordings/999999/download/mp4",
                 f"/speaker/recordings/{rec_a.id}/download/exe"):
        assert client.get(path).status_code == 404, path   # the same answer as for a recording that does not exist
    # A signed link for A's file does not open B's by editing it, nor does a made-up token.
    link = client.get(f"/speaker/recordings/{rec_a.id}/download/mp4").headers["Location"]
    token = link.rsplit("/", 1)[1]
    assert client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")).status_code == 404
    assert client.get("/files/" + token.replace(".", "x", 1)).status_code == 404
    assert client.get(f"/files/recordings/{rec_b.id}/media/download.mp4").status_code == 404
    # An editor may download any recording.
    editor = app.test_client()
    from tests.conftest import login as log_in

    log_in(editor, _user(app, "editor"))
    assert editor.get(f"/speaker/recordings/{rec_b.id}/download/mp4").status_code == 302


def _user(app, role):
    import uuid

    from orchestrator.accounts import upsert_user

    user, _ = upsert_user(f"{role}-{uuid.uuid4().hex[:6]}", "secret-pass", role=role)
    return user


def test_signed_links_expire(app, two_speakers):
    a, _, rec_a, _ = two_speakers
    from web.files import signed_url

    with app.test_request_context():
        link = signed_url(rec_a.asset("mp4").storage_key, expires_s=1, filename="a.mp4")
    client = app.test_client()
    assert client.get(link).status_code == 200
    time.sleep(2.1)
    response = client.get(link)
    assert response.status_code == 410 and "hết hạn" in response.get_data(as_text=True)


def test_s3_storage_gives_presigned_links(app, two_speakers, s3_endpoint, monkeypatch):
    """With S3 the speaker's link is a presigned S3 URL: the bytes never pass through Python."""
    from groundwork.storage import storage_from_url

    a, _, rec_a, _ = two_speakers
    store = storage_from_url("s3://speaker-dl/pfx", endpoint_url=s3_endpoint, access_key="testing-access-key",
                             secret_key="testing-secret-key", region="us-east-1", create_bucket=True)
    key = rec_a.asset("mp4").storage_key
    store.put_file(key, core.storage().local_path(key))
    monkeypatch.setitem(app.extensions, "diemcau.storage", store)
    client = app.test_client()
    login(client, a)
    location = client.get(f"/speaker/recordings/{rec_a.id}/download/mp4").headers["Location"]
    assert location.startswith(s3_endpoint) and "Signature" in location
    import requests

    assert requests.get(location, timeout=10).content == core.storage().local_path(key).read_bytes()


def _social_cut(rec) -> int:
    """A finished social cut of `rec` (its file: the recording's MP4), as the cutting room lists it."""
    from orchestrator import products as prod

    product = prod.MediaProduct(recording_id=rec.id, kind=prod.SOCIAL_CUT, status=prod.DONE,
                                result={"key": rec.asset("mp4").storage_key})
    db.session.add(product)
    db.session.commit()
    return product.id


def _download_routes(rec, product_id: int) -> list[str]:
    """Every route that hands out the bytes of a recording (or a file made from it) to a signed-in user."""
    return [f"/speaker/recordings/{rec.id}/download/mp4", f"/speaker/recordings/{rec.id}/download/vtt/vi",
            f"/speaker/recordings/{rec.id}/download/srt/vi", f"/speaker/recordings/{rec.id}/download/txt/vi",
            f"/speaker/recordings/{rec.id}/download/docx/vi",
            f"/panel/recordings/{rec.id}/products/{product_id}/download"]


def test_no_download_route_gives_a_speaker_another_speakers_recording_and_every_one_gives_an_editor(
        app, two_speakers, make_user):
    a, b, rec_a, rec_b = two_speakers
    db.session.add(Transcript(recording_id=rec_b.id, language="vi", version=1, text="B", cues=[
        {"start": 0.0, "end": 1.0, "text": "B"}]))
    db.session.commit()
    routes_b = _download_routes(rec_b, _social_cut(rec_b))
    speaker = app.test_client()
    login(speaker, a)
    for path in routes_b:  # the same 404 as for a recording that does not exist, on every route
        assert speaker.get(path).status_code == 404, path
    for path in (f"/panel/recordings/{rec_b.id}", f"/api/recordings/{rec_b.id}",
                 f"/panel/recordings/{rec_b.id}/products"):
        assert speaker.get(path).status_code == 404, path
    editor = app.test_client()
    login(editor, make_user("editor"))
    for path in routes_b:
        response = editor.get(path)
        assert response.status_code == 302, path
        assert editor.get(response.headers["Location"]).status_code == 200, path


def test_the_speaker_named_on_an_event_downloads_its_recording_on_every_route(
        app, make_user, make_recording, small_mp4):  # noqa: F811
    """Recorded by a technician, the report belongs to its speaker too: the panel, the speaker's page and
    the social cuts all agree."""
    tech, speaker_user = make_user("technician"), make_user("speaker")
    rec = make_recording(small_mp4, title="Báo cáo ghi tại phòng thu", user=tech)
    rec.event.speaker_id = speaker_user.id
    db.session.add(Transcript(recording_id=rec.id, language="vi", version=1, text="A", cues=[
        {"start": 0.0, "end": 1.0, "text": "A"}]))
    db.session.commit()
    client = app.test_client()
    login(client, speaker_user)
    for path in _download_routes(rec, _social_cut(rec)):
        response = client.get(path)
        assert response.status_code == 302, path
        assert client.get(response.headers["Location"]).status_code == 200, path
    assert client.get(f"/panel/recordings/{rec.id}").status_code == 200
    assert "Báo cáo ghi tại phòng thu" in client.get("/panel/").get_data(as_text=True)
    # Seeing it is not editing it: 403, not 404, since the speaker knows it exists.
    assert client.get(f"/panel/recordings/{rec.id}/edit").status_code == 403


def test_a_confidential_events_recording_is_closed_to_editors(app, make_user, make_recording, small_mp4):  # noqa: F811
    tech, editor_user = make_user("technician"), make_user("editor")
    rec = make_recording(small_mp4, title="Họp kín", user=tech, confidential=True)
    product_id = _social_cut(rec)
    editor = app.test_client()
    login(editor, editor_user)
    for path in [*_download_routes(rec, product_id), f"/panel/recordings/{rec.id}",
                 f"/panel/recordings/{rec.id}/edit", f"/panel/recordings/{rec.id}/publish",
                 f"/panel/recordings/{rec.id}/transcript"]:
        assert editor.get(path).status_code == 404, path
    assert "Họp kín" not in editor.get("/panel/").get_data(as_text=True)
    technician = app.test_client()
    login(technician, tech)
    assert technician.get(f"/panel/recordings/{rec.id}").status_code == 200
    assert technician.get(f"/speaker/recordings/{rec.id}/download/mp4").status_code == 302
