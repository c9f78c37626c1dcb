"""Portal search over transcript moments: with and without diacritics, only what is published."""
from __future__ import annotations

import re

from orchestrator.db import db
from orchestrator.search import reindex_all, search
from tests.conftest import login
from tests.transcript_helpers import make_transcribed_recording, publish_on_portal


def _hits(client, query: str, pub) -> list[str]:
    """This test's hits for `query` (other tests of the session publish clips with similar words)."""
    html = client.get("/search", query_string={"q": query}).get_data(as_text=True)
    return [h for h in re.findall(r'class="search-hit" href="([^"]+)"', html) if h.startswith(f"/v/{pub.slug}#")]


def test_words_are_found_with_and_without_diacritics_and_link_to_the_moment(app):
    rec = make_transcribed_recording(title="Hội nghị tháng 11")
    pub = publish_on_portal(rec)
    client = app.test_client()
    for query in ("Lũng Cú", "lung cu", "LUNG CU", "xa lung cu"):
        assert _hits(client, query, pub) == [f"/v/{pub.slug}#t=4.0"], query
    assert _hits(client, "nghi quyet dang bo", pub) == [f"/v/{pub.slug}#t=0.5"]
    # Diacritics typed by the viewer are respected: "nghĩ" is not "nghị".
    assert _hits(client, "nghĩ quyết", pub) == []
    assert _hits(client, "nghị quyết", pub) == [f"/v/{pub.slug}#t=0.5"]
    # Whole words only: "tin" does not match "tỉnh".
    assert _hits(client, "tin", pub) == []
    page = client.get("/search", query_string={"q": "lung cu"})
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    html = page.get_data(as_text=True)
    assert f'href="/v/{pub.slug}"' in html and "Hội nghị tháng 11" in html


def test_unpublished_and_confidential_transcripts_are_not_searchable(app):
    hidden = make_transcribed_recording(title="Chưa đăng")
    secret = make_transcribed_recording(title="Họp mật")
    publish_on_portal(secret)
    secret.event.confidential = True
    db.session.commit()
    found = {r.publication.recording_id for r in search("lung cu")}
    assert hidden.id not in found and secret.id not in found


def test_an_edited_transcript_is_searched_as_edited(app, make_user):
    rec = make_transcribed_recording()
    pub = publish_on_portal(rec)
    client = app.test_client()
    token = login(client, make_user("editor"))
    cues = [{"start": 0.5, "end": 3.0, "text": "Nghị quyết của Đảng bộ tỉnh Hà Giang."},
            {"start": 4.0, "end": 7.5, "text": "Xã Lũng Cú đón chào năm mới."}]
    assert client.post(f"/panel/recordings/{rec.id}/transcript/vi", json={"base_version": 1, "cues": cues},
                       headers={"X-CSRFToken": token}).status_code == 201
    viewer = app.test_client()
    assert _hits(viewer, "ha giang", pub) == [f"/v/{pub.slug}#t=0.5"]
    # Rebuilding the index from the current versions gives the same answers.
    assert reindex_all() >= 1
    assert _hits(viewer, "Hà Giang", pub) == [f"/v/{pub.slug}#t=0.5"]


def test_english_moments_are_found_too(app):
    rec = make_transcribed_recording(english=True)
    pub = publish_on_portal(rec)
    html = app.test_client().get("/search", query_string={"q": "resolution party"}).get_data(as_text=True)
    assert f"/v/{pub.slug}#t=0.5" in html and ">EN<" in html


def test_empty_or_odd_queries_are_harmless(app):
    client = app.test_client()
    for query in ("", "   ", "%", "_", "' OR 1=1 --", "x" * 500):
        response = client.get("/search", query_string={"q": query})
        assert response.status_code == 200
    assert search("%") == [] and search("") == []
