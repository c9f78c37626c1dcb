"""JSON API for sites, series, events, participants, invitations, documents, start/stop and the wall.
Same permission checks as the pages (docs/api.md). Logged-in calls send the X-CSRFToken header on writes."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from orchestrator.db import db
from orchestrator.invitations import DocumentError, add_document, documents, revoke
from orchestrator.live import STATES, LiveError, start_event, stop_event, wall_snapshot
from orchestrator.models import Event
from orchestrator.scheduling import (
    ConflictError,
    SchedulingError,
    add_participant,
    all_series,
    as_utc,
    cancel_event,
    create_event,
    ensure_series,
    events_between,
    page_bounds,
    participant_counts,
    participation_page,
    participations,
    remove_participant,
    select_sites,
    update_event,
)
from orchestrator.sites import Site, children, levels_in_use, search

from .auth import roles_required
from .errors import error_response
from .events import (
    _participation_or_404,
    document_message,
    event_or_404,
    input_from,
    live_message,
    scheduling_message,
)
from .input_guard import accepts_upload, db_int
from .links import join_url
from .schemas import EventBody, ParticipantBody, SeriesBody, parse_body
from .sites import import_uploads, report_dict

bp = Blueprint("api_events", __name__, url_prefix="/api")
API_PAGE_SIZE = 500   # participants, invitations and wall tiles per page unless `limit` asks otherwise


def event_json(event: Event, *, full: bool = False) -> dict:
    data = {
        "id": event.id, "kind": event.kind, "title": event.title, "status": event.status,
        "confidential": event.confidential, "series_id": event.series_id,
        "starts_at": as_utc(event.starts_at).isoformat() if event.starts_at else None,
        "ends_at": as_utc(event.ends_at).isoformat() if event.ends_at else None,
        "host_site_id": event.host_site_id, "speaker_id": event.speaker_id, "studio_site_id": event.studio_site_id,
        "recurrence": event.recurrence, "recurrence_parent_id": event.recurrence_parent_id,
        "url": url_for("events.detail", event_id=event.id),
    }
    if full:
        data["description"] = event.description
        data["participants"] = [participant_json(p) for p in participations(event)]
        data["documents"] = [d.to_dict() for d in documents(event)]
    return data


def participant_json(p, *, with_link: bool = False) -> dict:
    data = {"site_id": p.site_id, "code": p.site.code, "name": p.site.name, "level": p.site.level,
            "state": p.state, "attendance": p.attendance, "token_version": p.token_version}
    if with_link:
        data["join_url"] = join_url(p)
        data["qr_png"] = url_for("events.qr", event_id=p.event_id, site_id=p.site_id, fmt="png", _external=True)
        data["qr_svg"] = url_for("events.qr", event_id=p.event_id, site_id=p.site_id, fmt="svg", _external=True)
    return data


def scheduling_error(exc: SchedulingError):
    db.session.rollback()
    status = 409 if isinstance(exc, ConflictError) else 400
    body = {"error": exc.code, "message": scheduling_message(exc)}
    if isinstance(exc, ConflictError):
        body["conflicts"] = [c.to_dict() for c in exc.conflicts]
    return jsonify(body), status


# --- sites --------------------------------------------------------------------------------------

@bp.get("/sites")
@roles_required("technician", "editor")
def sites_list():
    q = request.args.get("q", "").strip()
    if q:
        found = search(q[:200], limit=max(1, min(request.args.get("limit", 20, type=db_int), 100)))
    else:
        found = children(request.args.get("parent", type=db_int))
    return jsonify(sites=[s.to_dict() for s in found], levels=levels_in_use())


@bp.get("/sites/<int:site_id>")
@roles_required("technician", "editor")
def site_get(site_id: int):
    site = db.session.get(Site, site_id)
    if site is None:
        return error_response(404, _("This site does not exist."), "not_found")
    return jsonify(site=site.to_dict(), children=[s.to_dict() for s in children(site.id)])


@bp.get("/sites/select")
@roles_required("technician")
def sites_select():
    """Participants by level and subtree: ?root=1&root=…&level=district&level=commune&within=12&within=…"""
    roots = request.args.getlist("root", type=db_int)
    levels = request.args.getlist("level") or None
    within = request.args.getlist("within", type=db_int)
    chosen = select_sites(roots, levels, within)
    return jsonify(sites=[s.to_dict() for s in chosen], count=len(chosen))


@bp.post("/sites/import")
@roles_required("admin")
@accepts_upload
def sites_import():
    files = [f for f in request.files.getlist("file") if f and f.filename]
    if not files:
        return error_response(400, _("Choose a file to import."), "no_file")
    report = import_uploads(files)
    return jsonify(report_dict(report)), 200 if report.ok else 400


# --- series -------------------------------------------------------------------------------------

@bp.get("/series")
@login_required
def series_list():
    return jsonify(series=[{"id": s.id, "name": s.name, "slug": s.slug, "description": s.description}
                           for s in all_series()])


@bp.post("/series")
@roles_required("technician")
def series_create():
    body = parse_body(SeriesBody)
    try:
        series = ensure_series(body.name, body.description)
        db.session.commit()
    except SchedulingError as exc:
        return scheduling_error(exc)
    return jsonify(id=series.id, name=series.name, slug=series.slug), 201


# --- events -------------------------------------------------------------------------------------

@bp.get("/events")
@login_required
def events_list():
    def parse(name: str, default: str) -> datetime:
        value = datetime.fromisoformat(request.args.get(name) or default)
        if value.tzinfo is None:
            raise ValueError("no offset")
        value.astimezone(UTC)  # OverflowError for year 1 at +14:00
        if not 1900 <= value.year <= 2200:
            raise ValueError("out of range")
        return value
    try:
        start, end = parse("from", "1970-01-01T00:00:00+00:00"), parse("to", "2100-01-01T00:00:00+00:00")
    except (ValueError, OverflowError):
        return error_response(400, _("«from» and «to» must be ISO 8601 times with a UTC offset, "
                                     "between the years 1900 and 2200."), "bad_time")
    return jsonify(events=[event_json(e) for e in events_between(current_user, start, end)])


@bp.post("/events")
@roles_required("technician")
def events_create():
    body = parse_body(EventBody)
    try:
        created = create_event(current_user, input_from(body.model_dump(), body.site_ids or [], body.kind),
                               override=body.override)
    except SchedulingError as exc:
        return scheduling_error(exc)
    return jsonify(events=[event_json(e) for e in created]), 201


@bp.get("/events/<int:event_id>")
@login_required
def event_get(event_id: int):
    return jsonify(event_json(event_or_404(event_id), full=True))


@bp.put("/events/<int:event_id>")
@roles_required("technician")
def event_update(event_id: int):
    event = event_or_404(event_id, manage=True)
    body = parse_body(EventBody)
    site_ids = body.site_ids
    if site_ids is None:
        site_ids = [p.site_id for p in participations(event)]
    try:
        update_event(event, current_user, input_from(body.model_dump(), site_ids, event.kind),
                     override=body.override)
    except SchedulingError as exc:
        return scheduling_error(exc)
    return jsonify(event_json(event, full=True))


@bp.post("/events/<int:event_id>/cancel")
@roles_required("technician")
def event_cancel(event_id: int):
    event = event_or_404(event_id, manage=True)
    try:
        cancel_event(event, current_user)
    except SchedulingError as exc:
        return scheduling_error(exc)
    return jsonify(event_json(event))


@bp.post("/events/<int:event_id>/start")
@roles_required("technician")
def event_start(event_id: int):
    event = event_or_404(event_id, manage=True)
    try:
        start_event(event, current_user)
    except LiveError as exc:
        return error_response(409, live_message(exc), exc.code)
    return jsonify(event_json(event))


@bp.post("/events/<int:event_id>/stop")
@roles_required("technician")
def event_stop(event_id: int):
    event = event_or_404(event_id, manage=True)
    try:
        stop_event(event, current_user)
    except LiveError as exc:
        return error_response(409, live_message(exc), exc.code)
    return jsonify(event_json(event))


@bp.get("/events/<int:event_id>/participants")
@login_required
def participants_list(event_id: int):
    event = event_or_404(event_id)
    states = request.args.getlist("state") or None
    if states and not set(states) <= set(STATES):
        return error_response(400, "unknown state", "bad_state")
    offset, limit = page_bounds(request.args.get("offset"), request.args.get("limit"), API_PAGE_SIZE)
    counts = participant_counts(event)
    page = participation_page(event, offset=offset, limit=limit, states=states, counts=counts)
    return jsonify(participants=[participant_json(p) for p in page.items], counts=counts.to_dict(), **page.to_dict())


@bp.post("/events/<int:event_id>/participants")
@roles_required("technician")
def participants_add(event_id: int):
    event = event_or_404(event_id, manage=True)
    body = parse_body(ParticipantBody)
    site = None
    if body.site_id is not None:
        site = db.session.get(Site, body.site_id)
    elif body.code:
        site = db.session.execute(db.select(Site).filter_by(code=body.code)).scalar_one_or_none()
    if site is None:
        return error_response(404, _("This site does not exist."), "unknown_site")
    try:
        p = add_participant(event, site, current_user, override=body.override)
    except SchedulingError as exc:
        return scheduling_error(exc)
    return jsonify(participant_json(p, with_link=True)), 201


@bp.delete("/events/<int:event_id>/participants/<int:site_id>")
@roles_required("technician")
def participants_remove(event_id: int, site_id: int):
    event = event_or_404(event_id, manage=True)
    try:
        remove_participant(event, site_id, current_user)
    except SchedulingError as exc:
        return scheduling_error(exc)
    return jsonify(ok=True)


@bp.post("/events/<int:event_id>/participants/<int:site_id>/revoke")
@roles_required("technician")
def participants_revoke(event_id: int, site_id: int):
    event = event_or_404(event_id, manage=True)
    p = _participation_or_404(event, site_id)
    revoke(p, current_user)
    return jsonify(participant_json(p, with_link=True))


@bp.get("/events/<int:event_id>/invitations")
@roles_required("technician")
def invitations(event_id: int):
    event = event_or_404(event_id, manage=True)
    offset, limit = page_bounds(request.args.get("offset"), request.args.get("limit"), API_PAGE_SIZE)
    page = participation_page(event, offset=offset, limit=limit)
    return jsonify(invitations=[participant_json(p, with_link=True) for p in page.items], **page.to_dict())


@bp.get("/events/<int:event_id>/documents")
@login_required
def documents_list(event_id: int):
    event = event_or_404(event_id)
    return jsonify(documents=[{**d.to_dict(), "url": url_for("events.download_document", event_id=event.id,
                                                             doc_id=d.id)} for d in documents(event)])


@bp.post("/events/<int:event_id>/documents")
@roles_required("technician")
@accepts_upload
def documents_add(event_id: int):
    event = event_or_404(event_id, manage=True)
    file = request.files.get("document")
    if file is None or not file.filename:
        return error_response(400, document_message(DocumentError("empty")), "empty")
    try:
        doc = add_document(event, file.filename, file.read(), current_user)
    except DocumentError as exc:
        db.session.rollback()
        return error_response(400, document_message(exc), exc.code)
    return jsonify(doc.to_dict()), 201


@bp.get("/events/<int:event_id>/wall")
@roles_required("technician")
def wall(event_id: int):
    event = event_or_404(event_id, manage=True)
    offset, limit = page_bounds(request.args.get("offset"), request.args.get("limit"), API_PAGE_SIZE)
    only_problems = request.args.get("problems", "") in ("1", "true", "on")
    return jsonify(wall_snapshot(event, offset=offset, limit=limit, only_problems=only_problems))
