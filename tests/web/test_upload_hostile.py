"""A hostile playlist through the panel's real upload route: refused in Vietnamese before anything
is created, and what it points at is never read (tests/hostile_media.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.db import db
from orchestrator.models import Event, Recording
from tests.conftest import login
from tests.hostile_media import Trap, make_payload, open_trap
from tests.media_helpers import have_ffmpeg


@pytest.fixture
def trap(tmp_path: Path) -> Iterator[Trap]:
    if not have_ffmpeg():
        pytest.skip("ffmpeg/ffprobe are not installed")
    t = open_trap(tmp_path / "site", make_payload(tmp_path / "payload.ts").read_bytes())
    yield t
    t.close()


def _count(model) -> int:
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar()


@pytest.mark.parametrize("case,filename", [
    ("hls-file-url", "Hội nghị tổng kết.m3u8"),
    ("hls-relative-path", "Hội nghị tổng kết.mp4"),  # a playlist wearing a video's name
    ("hls-loopback-http", "bao-cao.mp4"),
    ("ffconcat-file", "bao-cao.mov"),
])
def test_hostile_playlist_upload_is_refused_in_vietnamese_and_creates_nothing(client, make_user, app, trap, case,
                                                                              filename):
    token = login(client, make_user("technician"))
    path = trap.uploads / "upload"
    path.write_text(trap.case(case).text, encoding="utf-8")
    recordings, events = _count(Recording), _count(Event)
    with open(path, "rb") as f:
        response = client.post("/panel/upload", data={"file": (f, filename), "title": "Tấn công", "csrf_token": token},
                               headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "playlist"
    assert "danh sách phát" in body["message"] and "MP4" in body["message"]
    assert (_count(Recording), _count(Event)) == (recordings, events)
    assert not any(Path(app.extensions["diemcau.settings"].upload_tmp_dir).iterdir())
    assert trap.touched() == trap.untouched()
