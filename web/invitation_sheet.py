"""The printable invitations sheet of every site of an event: one HTML file, one page per site with its
link and QR code, made by an RQ job on the `default` queue (10,000 sites take tens of seconds of QR
drawing, too long for a request).

The job reports its progress in the RQ job meta (runtime.Progress) and the invitations page polls it.
The file is stored under a key derived from everything it shows (invitations.sheet_fingerprint), so a
stored sheet is current by construction and the same request never makes it twice. It is served, like
the event's documents, through a short-lived signed URL after the same permission check as the page.
"""
from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context, render_template, request, url_for
from flask_babel import force_locale, get_locale
from markupsafe import Markup
from rq.exceptions import NoSuchJobError
from rq.job import Job

from orchestrator import core, runtime
from orchestrator.db import db
from orchestrator.invitations import qr_svg, sheet_fingerprint, sheet_key, sheet_prefix
from orchestrator.models import Event, User, audit
from orchestrator.runtime import Progress
from orchestrator.scheduling import participant_counts, participation_page, to_local

from .links import join_url
from .messages import level_label

SHEET_QUEUE = "default"
CHUNK = 200          # sites rendered and written at a time: memory stays flat whatever the event's size
JOB_TIMEOUT_S = 3600
QUEUED, RUNNING, FAILED = ("queued", "deferred", "scheduled"), ("started",), ("failed", "stopped", "canceled")


def _context() -> dict[str, str]:
    """What, besides the data, changes the sheet: the address its links point to and its language."""
    return {"base_url": request.url_root, "locale": str(get_locale() or "vi")}


def job_id(event_id: int, fingerprint: str) -> str:
    return f"invitation-sheet-{event_id}-{fingerprint[:24]}"


def sheet_state(event: Event) -> dict[str, Any]:
    """{state: none | queued | running | done | failed, percent} of the sheet the page would print now."""
    fingerprint = sheet_fingerprint(event, **_context())
    if core.storage().exists(sheet_key(event.id, fingerprint)):
        return {"state": "done", "percent": 100.0,
                "download_url": url_for("events.invitation_sheet_download", event_id=event.id)}
    try:
        job = Job.fetch(job_id(event.id, fingerprint), connection=core.redis_connection())
    except NoSuchJobError:
        return {"state": "none", "percent": 0.0}
    status = job.get_status(refresh=True)
    status = getattr(status, "value", status)
    percent = float((job.get_meta(refresh=True) or {}).get("percent") or 0.0)
    if status in QUEUED:
        return {"state": "queued", "percent": percent}
    if status in RUNNING:
        return {"state": "running", "percent": percent}
    if status in FAILED:
        return {"state": "failed", "percent": percent}
    return {"state": "none", "percent": 0.0}  # finished, yet its file is gone (deleted, or the data moved on)


def request_sheet(event: Event, user: User | None) -> dict[str, Any]:
    """Enqueue the sheet's job unless it is stored, queued or running already."""
    state = sheet_state(event)
    if state["state"] in ("done", "queued", "running"):
        return state
    context = _context()
    fingerprint = sheet_fingerprint(event, **context)
    if state["state"] == "failed":  # the same job id again: the failed job makes way
        Job.fetch(job_id(event.id, fingerprint), connection=core.redis_connection()).delete()
    runtime.enqueue(
        make_sheet, event.id, context["base_url"], context["locale"],
        job_id=job_id(event.id, fingerprint), description=f"invitations sheet of event {event.id}",
        meta={"event_id": event.id, "percent": 0.0})
    audit(user, "event.invitation_sheet", event)
    db.session.commit()
    return {"state": "queued", "percent": 0.0}


def stored_sheet_key(event: Event) -> str | None:
    key = sheet_key(event.id, sheet_fingerprint(event, **_context()))
    return key if core.storage().exists(key) else None


@cache
def _web_app() -> Flask:
    """The panel app of a worker process, made on first use: the sheet uses the panel's templates,
    translations and URL rules, so its pages are the invitations page's pages."""
    from . import create_app

    return create_app()


# The sheet sets up the panel's app context itself (templates, translations, URL rules).
@runtime.job(SHEET_QUEUE, timeout=JOB_TIMEOUT_S, app_context=False)
def make_sheet(event_id: int, base_url: str, locale: str) -> dict[str, Any]:
    """The RQ job: render every site's invitation page into one file and store it. Returns its key."""
    app = current_app._get_current_object() if has_app_context() and "events" in current_app.blueprints \
        else _web_app()
    with app.test_request_context("/", base_url=base_url), force_locale(locale):
        try:
            return _make_sheet(event_id, base_url, locale)
        finally:
            db.session.remove()


def _make_sheet(event_id: int, base_url: str, locale: str) -> dict[str, Any]:

    event = db.session.get(Event, event_id)
    # Computed here, not taken from the request: a link revoked while the job waited is in this sheet,
    # and the sheet is stored under the key of what it really shows.
    fingerprint = sheet_fingerprint(event, base_url=base_url, locale=locale)
    key = sheet_key(event.id, fingerprint)
    progress = Progress()
    counts = participant_counts(event)
    progress(0.0)
    with tempfile.TemporaryDirectory(prefix="sheet-") as tmp:
        path = Path(tmp) / "sheet.html"
        with path.open("w", encoding="utf-8") as out:
            out.write(render_template("events/invitation_sheet.html", event=event, locale=locale))
            done = 0
            for offset in range(0, max(counts.sites, 1), CHUNK):
                page = participation_page(event, offset=offset, limit=CHUNK, counts=counts)
                links = {p.site_id: join_url(p) for p in page.items}
                qrs = {site_id: Markup(qr_svg(url)) for site_id, url in links.items()}
                for p in page.items:
                    out.write(render_template("events/_invite_page.html", event=event, p=p, links=links, qrs=qrs,
                                              to_local=to_local, level_label=level_label))
                done += len(page.items)
                db.session.expunge_all()  # a chunk's rows are written: let them go
                event = db.session.get(Event, event_id)
                progress(99.0 * done / max(counts.sites, 1))
            out.write("</body>\n</html>\n")
        store = core.storage()
        store.put_file(key, path, "text/html; charset=utf-8")
    for older in store.list(sheet_prefix(event_id)):  # sheets of the event as it was: never served again
        if older != key:
            store.delete(older)
    progress(100.0)
    return {"key": key, "sites": done}
