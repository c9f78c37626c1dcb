"""The site join page: no account, the signed link is the key. Event details, documents, a pre-flight
check, attendance, and a state report every few seconds while the page is open."""
from __future__ import annotations

import time

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from orchestrator import core
from orchestrator.db import db
from orchestrator.invitations import EventDocument, JoinError, check_join, documents
from orchestrator.live import LiveError, attendance_limit, check_report, event_status, report_state, set_attendance
from orchestrator.scheduling import to_local
from orchestrator.sites import media_node_for

from .errors import error_response
from .events import live_message
from .extensions import csrf
from .files import signed_url
from .messages import level_label
from .security_headers import allow_connect

bp = Blueprint("join", __name__)
REPORT_INTERVAL_S = 3


def join_message(exc: JoinError) -> str:
    messages = {
        "invalid": _("This link is not valid. Check that it was copied completely, or ask the organiser "
                     "for the link of your site."),
        "expired": _("This link has expired. Ask the organiser for a new link."),
        "revoked": _("This link was replaced by a new one. Ask the organiser for the current link or QR code."),
        "wrong_kind": _("This is not a site link. Ask the organiser for the link of your site."),
        "other_event": _("This link belongs to another event. Open the link you received for this event."),
        "other_site": _("This link belongs to another site (%(site)s). Open the link of your own site.",
                        site=exc.params.get("site") or "?"),
        "not_invited": _("Your site is no longer invited to this event. Ask the organiser."),
        "cancelled": _("This event was cancelled."),
        "ended": _("This event has ended."),
    }
    return messages.get(exc.code, exc.code)


def join_status(exc: JoinError) -> int:
    return {"invalid": 404, "wrong_kind": 404, "other_event": 403, "other_site": 403, "not_invited": 403,
            "revoked": 410, "expired": 410, "cancelled": 410, "ended": 409}.get(exc.code, 400)


def _join_error(exc: JoinError):
    if request.path.startswith("/api/"):
        return jsonify(error=exc.code, message=join_message(exc)), join_status(exc)
    return render_template("join/error.html", message=join_message(exc), code=exc.code), join_status(exc)


@bp.get("/join/<int:event_id>/<int:site_id>/<token>")
def page(event_id: int, site_id: int, token: str):
    try:
        grant = check_join(token, event_id=event_id, site_id=site_id)
    except JoinError as exc:
        return _join_error(exc)
    base = f"/api/join/{event_id}/{site_id}/{token}"
    media_node = media_node_for(grant.site, core.settings().media_server_url)
    allow_connect(media_node)  # the player talks to the site's own relay, which may be another host
    response = Response(render_template(
        "join/page.html", event=grant.event, site=grant.site, p=grant.participation, docs=documents(grant.event),
        token=token, api_base=base, to_local=to_local, level_label=level_label,
        media_node=media_node,
        attendance_limit=attendance_limit(grant.site), interval_s=REPORT_INTERVAL_S))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL: never hand it to other sites
    return response


@bp.get("/join/<int:event_id>/<int:site_id>/<token>/documents/<int:doc_id>")
def document(event_id: int, site_id: int, token: str, doc_id: int):
    try:
        grant = check_join(token, event_id=event_id, site_id=site_id)
    except JoinError as exc:
        return _join_error(exc)
    doc = db.session.get(EventDocument, doc_id)
    if doc is None or doc.event_id != grant.event.id:
        abort(404)
    return redirect(signed_url(doc.storage_key, expires_s=300, filename=doc.filename))


# --- API used by the join page (no session: the token authorises, so no CSRF cookie to forge) ---

@bp.get("/api/join/ping")
@csrf.exempt
def ping():
    """A tiny answer for measuring the round trip from the site to the server."""
    return jsonify(t=time.time())


@bp.get("/api/join/<int:event_id>/<int:site_id>/<token>")
def info(event_id: int, site_id: int, token: str):
    try:
        grant = check_join(token, event_id=event_id, site_id=site_id)
    except JoinError as exc:
        return _join_error(exc)
    event, site, p = grant.event, grant.site, grant.participation
    return jsonify(event={"id": event.id, "title": event.title, "status": event.status,
                          "starts_at": event.starts_at.isoformat(), "ends_at": event.ends_at.isoformat(),
                          "confidential": event.confidential},
                   site=site.to_dict(), attendance=p.attendance, attendance_limit=attendance_limit(site),
                   documents=[{**d.to_dict(), "url": url_for("join.document", event_id=event_id, site_id=site_id,
                                                             token=token, doc_id=d.id)}
                              for d in documents(event)],
                   report_interval_s=REPORT_INTERVAL_S)


@bp.post("/api/join/<int:event_id>/<int:site_id>/<token>/report")
@csrf.exempt
def report(event_id: int, site_id: int, token: str):
    try:
        check_report(token, event_id, site_id)  # Redis only: this runs for every site every few seconds
    except JoinError as exc:
        return _join_error(exc)
    try:
        message = report_state(event_id, site_id, request.get_json(silent=True) or {})
    except LiveError as exc:
        return error_response(400, live_message(exc), exc.code)
    return jsonify(ok=True, ts=message["ts"], event_status=event_status(event_id))


@bp.post("/api/join/<int:event_id>/<int:site_id>/<token>/attendance")
@csrf.exempt
def attendance(event_id: int, site_id: int, token: str):
    try:
        grant = check_join(token, event_id=event_id, site_id=site_id, for_update=True)
    except JoinError as exc:
        return _join_error(exc)
    body = request.get_json(silent=True) or request.form
    try:
        count = set_attendance(grant.participation, body.get("attendance"))
    except LiveError as exc:
        db.session.rollback()
        return error_response(400, live_message(exc), exc.code)
    return jsonify(ok=True, attendance=count, message=_("Saved: %(n)s people.", n=count))
