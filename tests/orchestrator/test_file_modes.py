"""Stored files and the data folder's secrets are not readable by other users of the machine, whatever
the umask: storage files 0640 in folders 0750, the secret key and the SQLite database 0600."""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest

from groundwork.config import load_settings
from groundwork.storage import LocalStorage


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o000, 0o640, 0o750), (0o022, 0o640, 0o750),
                                                      (0o077, 0o600, 0o700)])
def test_local_storage_files_and_folders_are_private(tmp_path, mask, file_mode, dir_mode):
    with umask(mask):
        store = LocalStorage(tmp_path / "storage" / "root")
        store.put_bytes("events/7/documents/abc-bien-ban.pdf", "%PDF-1.4 mật".encode())
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"x" * 100)
        store.put_file("recordings/3/media/download.mp4", source)
    for key in ("events/7/documents/abc-bien-ban.pdf", "recordings/3/media/download.mp4"):
        assert mode(store.local_path(key)) == file_mode, key
    for folder in (tmp_path / "storage", store.root, store.root / "events", store.root / "events" / "7",
                   store.root / "events" / "7" / "documents", store.root / "recordings" / "3" / "media"):
        assert mode(folder) == dir_mode, folder


def test_the_secret_key_and_the_database_file_are_owner_only(tmp_path):
    data = tmp_path / "data"
    with umask(0o000):
        settings = load_settings({"DIEMCAU_DATA_DIR": str(data)})
    assert mode(data) == 0o750
    assert mode(data / "secret_key") == 0o600 and len(settings.secret_key) == 64
    assert settings.database_url.endswith(str(data / "diemcau.db"))
    assert mode(data / "diemcau.db") == 0o600
    # Files an older version left readable are narrowed on the next start, and keep their contents.
    os.chmod(data / "secret_key", 0o644)
    os.chmod(data / "diemcau.db", 0o644)
    again = load_settings({"DIEMCAU_DATA_DIR": str(data)})
    assert again.secret_key == settings.secret_key
    assert mode(data / "secret_key") == 0o600 and mode(data / "diemcau.db") == 0o600


def test_confidential_documents_are_kept_outside_the_public_media_paths(app, make_user):
    """Event documents are stored under events/, never under the recordings/*/media|subtitles/ folders
    that DIEMCAU_MEDIA_BASE_URL may serve publicly, and are only handed out through signed links."""
    import re
    import uuid
    from datetime import timedelta

    from orchestrator.invitations import add_document
    from orchestrator.scheduling import EventInput, create_event
    from tests.orchestrator.test_scheduling_rules import future, make_tree

    t = make_tree()
    tech = make_user("technician")
    start = future(600 + uuid.uuid4().int % 100)
    event = create_event(tech, EventInput(kind="conference", title="Họp kín", starts_at=start, confidential=True,
                                          ends_at=start + timedelta(hours=1), host_site_id=t["P"].id,
                                          site_ids=[t["P"].id]))[0]
    doc = add_document(event, "bien-ban.pdf", b"%PDF-1.4\n%%EOF\n", tech)
    assert doc.storage_key.startswith(f"events/{event.id}/documents/")
    assert not re.match(r"^recordings/\d+/(media|subtitles)/", doc.storage_key)
    client = app.test_client()
    from tests.conftest import login

    login(client, tech)
    response = client.get(f"/events/{event.id}/documents/{doc.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/files/")
    from orchestrator import core

    path = core.storage().local_path(doc.storage_key)
    assert mode(path) & 0o007 == 0                          # not readable by other users either
