"""orchestrator.core.options: the tuning knobs read once per request, afresh for the next one."""
from __future__ import annotations

from orchestrator import core


def test_options_are_read_once_per_request_and_again_for_the_next(app, monkeypatch):
    monkeypatch.setenv("DIEMCAU_MEDIA_BASE_URL", "https://one.example")
    with app.test_request_context("/"):
        first = core.options()
        monkeypatch.setenv("DIEMCAU_MEDIA_BASE_URL", "https://two.example")
        assert core.options() is first and first.media_base_url == "https://one.example"
    with app.test_request_context("/"):
        assert core.options().media_base_url == "https://two.example"
    with app.app_context():                     # a job: no request, read at each call
        monkeypatch.setenv("DIEMCAU_MEDIA_BASE_URL", "https://three.example")
        assert core.options().media_base_url == "https://three.example"
