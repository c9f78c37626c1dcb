"""Studio pages: the host studio (publish the program from the browser, give the floor), the
report-video studio (preview, countdown, record, stop, re-take), and a token-only player page.

The browser talks to the media server directly (WHIP/WHEP, see docs/live.md); these views only
check who is asking, hand out the short-lived media tokens and change the event's live state.
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from groundwork.live_contract import parse_version, version_field, versions_key
from groundwork.tokens import sign
from orchestrator import core
from orchestrator.db import db
from orchestrator.floor import FloorError, current_floor, give_floor
from orchestrator.invitations import JoinError, check_join
from orchestrator.models import Event
from orchestrator.pipeline import UserFacingError
from orchestrator.policy import Action, allows
from orchestrator.recordings import latest_recording, start_take, stop_take

from .auth import authorize, roles_required
from .join import join_message, join_status
from .messages import status_label

bp = Blueprint("studio", __name__, url_prefix="/studio")


def _event_or_404(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        abort(404)
    return event


def _host_version(event_id: int) -> int:
    return parse_version(core.redis_connection().hget(versions_key(event_id), version_field("host", 0)))


def _sites(event: Event) -> list[dict]:
    from orchestrator.scheduling import participations
    out = []
    for p in participations(event):
        site = getattr(p, "site", None)
        out.append({"id": p.site_id, "name": getattr(site, "name", None) or f"#{p.site_id}"})
    return out


def media_messages() -> dict[str, str]:
    """Translated texts for the media server's error codes and the players' states (for the JS)."""
    return {
        "token_missing": _("The link has no access code."), "token_invalid": _("The access code is not valid."),
        "token_expired": _("The link has expired; ask the technician for a new one."),
        "token_revoked": _("This link was revoked; ask the technician for the new one."),
        "token_wrong_event": _("This link belongs to another event."),
        "token_wrong_kind": _("This link does not allow that."),
        "event_not_live": _("The event is not live yet (or has ended)."),
        "no_floor": _("This site does not have the floor."),
        "already_publishing": _("Someone else is already publishing this source. Stop it there first."),
        "malformed_sdp": _("The browser sent a connection offer the server cannot use."),
        "codec_unsupported": _("This browser cannot play H.264 video."),
        "server_busy": _("The media server is full or unavailable. Try again in a moment."),
        "network": _("Cannot reach the media server. Check the network; retrying…"),
        "camera": _("Cannot open the camera or microphone. Allow access in the browser and check the devices."),
        "state_new": _("Not connected"), "state_connecting": _("Connecting…"), "state_connected": _("Receiving"),
        "state_publishing": _("On air"), "state_reconnecting": _("Connection lost, reconnecting…"),
        "state_failed": _("Connection failed"), "state_stopped": _("Stopped"),
        "state_waiting": _("Waiting for the event to start…"),
        "recording": _("Recording"), "countdown": _("Recording starts in"), "processing": _("Processing the take…"),
        "take_saved": _("Take saved. It is being processed."), "take_discarded": _("Take discarded."),
    }


@bp.get("/events/<int:event_id>")
@roles_required("technician")
def host(event_id: int):
    event = authorize(Action.START, db.session.get(Event, event_id))
    token = sign("host", event.id, 0, _host_version(event.id), secret=core.token_secret())
    return render_template("studio/host.html", event=event, token=token, media_url=core.settings().media_server_url,
                           sites=_sites(event), floor=current_floor(event.id), messages=media_messages(),
                           status=status_label(event.status))


@bp.post("/events/<int:event_id>/floor")
@roles_required("technician")
def floor(event_id: int):
    event = authorize(Action.START, db.session.get(Event, event_id))
    body = request.get_json(silent=True) or {}
    sites = {s["id"] for s in _sites(event)} or None
    try:
        value = give_floor(event, str(body.get("floor", "host")), current_user, allowed_sites=sites)
    except FloorError as exc:
        messages = {"not_live": _("The event is not live."), "bad_floor": _("Choose a site or the host."),
                    "not_participant": _("That site does not take part in this event.")}
        return jsonify(error=exc.code, message=messages.get(exc.code, exc.code)), 400
    return jsonify(floor=value)


def _report_or_404(event_id: int) -> Event:
    event = _event_or_404(event_id)
    if event.kind != "report" or not allows(current_user, Action.START, event):
        abort(404)
    return event


@bp.get("/report/<int:event_id>")
@login_required
def report(event_id: int):
    event = _report_or_404(event_id)
    return render_template("studio/report.html", event=event, media_url=core.settings().media_server_url,
                           messages=media_messages(), recording=latest_recording(event))


@bp.post("/report/<int:event_id>/take")
@login_required
def take_start(event_id: int):
    event = _report_or_404(event_id)
    try:
        start_take(event, current_user)
    except UserFacingError:
        return jsonify(error="not_report", message=_("Only a report recording can be recorded here.")), 400
    return jsonify(token=sign("studio", event.id, current_user.id, 1, secret=core.token_secret()),
                   whip=f"{core.settings().media_server_url}/whip/{event.id}")


@bp.post("/report/<int:event_id>/take/stop")
@login_required
def take_stop(event_id: int):
    event = _report_or_404(event_id)
    body = request.get_json(silent=True) or {}
    stop_take(event, current_user, discard=bool(body.get("discard")))
    return jsonify(status=event.status, recordings=len(event.recordings))


@bp.get("/report/<int:event_id>/status")
@login_required
def take_status(event_id: int):
    event = _report_or_404(event_id)
    db.session.refresh(event)
    recording = latest_recording(event)
    return jsonify(status=event.status, status_label=status_label(event.status), recordings=len(event.recordings),
                   recording_id=recording.id if recording else None,
                   recording_url=url_for("panel.recording", recording_id=recording.id) if recording else None,
                   stages=[{"stage": s.stage, "status": s.status} for s in recording.stages] if recording else [])


@bp.get("/watch/<int:event_id>")
def watch(event_id: int):
    """The program player for a site's join link (no account: the token is the key, checked like the join
    page checks it, version included, so a revoked link stops here too)."""
    token = request.args.get("token", "")
    try:
        grant = check_join(token, event_id=event_id)
    except JoinError as exc:
        return render_template("join/error.html", message=join_message(exc), code=exc.code), join_status(exc)
    return render_template("studio/watch.html", event=grant.event, token=token, site_id=grant.site.id,
                           media_url=core.settings().media_server_url, messages=media_messages())


@bp.app_context_processor
def live_player_context() -> dict:
    """What `studio/_player.html` needs, for pages of other blueprints (the site join page)."""
    return {"live_media_url": lambda: core.settings().media_server_url, "live_messages": media_messages}
