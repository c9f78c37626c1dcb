"""Events in the panel: calendar (month/week/list), conference and report forms, the event page with its
participants, invitations, documents, start/stop. Thin: the rules live in orchestrator.scheduling,
orchestrator.invitations and orchestrator.live."""
from __future__ import annotations

import calendar as pycal
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from orchestrator.db import db
from orchestrator.invitations import (
    DocumentError,
    EventDocument,
    add_document,
    delete_document,
    documents,
    event_ics,
    qr_png,
    qr_svg,
    revoke,
)
from orchestrator.live import LiveError, start_event, stop_event
from orchestrator.models import Event
from orchestrator.policy import Action, allows
from orchestrator.scheduling import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    TZ,
    Conflict,
    ConflictError,
    EventInput,
    Participation,
    SchedulingError,
    add_participant,
    all_series,
    cancel_event,
    create_event,
    ensure_series,
    events_between,
    page_bounds,
    parse_local,
    participant_counts,
    participation_page,
    participations,
    remove_participant,
    speakers,
    to_local,
    update_event,
)
from orchestrator.sites import Site, levels_in_use, roots

from .auth import authorize, roles_required
from .files import signed_url
from .input_guard import accepts_upload
from .invitation_sheet import request_sheet, sheet_state, stored_sheet_key
from .links import join_url
from .messages import level_label

bp = Blueprint("events", __name__, url_prefix="/events")
EVENT_PAGE_SIZE = 100         # participants listed on the event page
# Invitations, each with a freshly signed link and its QR code (a few ms each): an event of up to 250 sites
# is shown and printed whole, as it always was; a bigger one 100 at a time, and the sheet job makes all of them.
INVITATIONS_WHOLE_MAX = 250
INVITATIONS_PAGE_SIZE = 100


# --- messages (the codes raised by orchestrator, in the user's language) -------------------------

def scheduling_message(exc: SchedulingError) -> str:
    messages = {
        "bad_kind": _("Choose a conference or a report recording."),
        "title_required": _("Enter a title."),
        "title_too_long": _("The title is too long (300 characters at most)."),
        "time_required": _("Enter the start and end time."),
        "end_before_start": _("The end time must be after the start time."),
        "too_long": _("An event cannot last more than 24 hours."),
        "in_past": _("The start time is in the past. Choose a time from now on."),
        "bad_recurrence": _("The number of monthly occurrences must be between 1 and %(max)s.",
                            max=exc.params.get("max", 24)),
        "unknown_series": _("The chosen series does not exist any more. Choose another one."),
        "series_name": _("Enter a name for the new series."),
        "bad_language": _("Choose the spoken language from the list."),
        "host_required": _("Choose the host site of the conference."),
        "speaker_required": _("Choose the speaker of the report."),
        "studio_required": _("Choose the studio where the report is recorded."),
        "unknown_site": _("Some chosen sites do not exist any more. Reload the page and choose again."),
        "not_editable": _("Only a scheduled event can be changed."),
        "not_cancellable": _("Only a scheduled event can be cancelled."),
    }
    if isinstance(exc, ConflictError):
        return conflicts_message(exc.conflicts, exc.occurrence)
    return messages.get(exc.code, _("The event could not be saved (%(code)s).", code=exc.code))


def _when(value: datetime) -> str:
    return format_datetime(value, "dd/MM/yyyy HH:mm")


def conflict_message(c: Conflict) -> str:
    params = {"subject": c.subject, "event": c.event_title, "start": _when(c.starts_at),
              "end": format_datetime(c.ends_at, "HH:mm")}
    if c.kind == "speaker":
        return _("The speaker %(subject)s already has «%(event)s» (%(start)s–%(end)s).", **params)
    if c.kind == "studio":
        return _("The studio %(subject)s is already booked for «%(event)s» (%(start)s–%(end)s).", **params)
    return _("%(subject)s is already booked for «%(event)s» (%(start)s–%(end)s).", **params)


def conflicts_message(conflicts: list[Conflict], occurrence: datetime | None = None, shown: int = 5) -> str:
    lines = [conflict_message(c) for c in conflicts[:shown]]
    if len(conflicts) > shown:
        lines.append(_("…and %(n)s more.", n=len(conflicts) - shown))
    head = _("This time overlaps other events:")
    if occurrence is not None:
        head = _("On %(date)s this time overlaps other events:", date=_when(occurrence))
    return " ".join([head, *lines, _("Choose another time or other sites (only an administrator may override).")])


def live_message(exc: LiveError) -> str:
    messages = {
        "cannot_start": _("Only a scheduled event can be started."),
        "cannot_stop": _("Only a live event can be stopped."),
        "not_live_kind": _("Only conferences and report recordings are started from the panel."),
        "bad_state": _("Unknown connection state."),
        "bad_number": _("A reported number is out of range."),
        "attendance_not_number": _("Enter the number of people as a whole number."),
        "attendance_negative": _("The number of people cannot be negative."),
        "attendance_absurd": _("%(limit)s people at most can be entered for this room (twice its capacity). "
                               "Check the number.", limit=exc.params.get("limit", 0)),
    }
    return messages.get(exc.code, exc.code)


def document_message(exc: DocumentError) -> str:
    messages = {
        "empty": _("The document is empty."),
        "too_large": _("The document is larger than 50 MB."),
        "bad_type": _("Only PDF, Word, PowerPoint, Excel and OpenDocument files can be attached."),
    }
    return messages.get(exc.code, exc.code)


STATE_LABELS = {"not_joined": "Not joined", "joined": "Joined", "receiving": "Receiving", "degraded": "Degraded",
                "dropped": "Dropped"}


def state_labels() -> dict[str, str]:
    return {"not_joined": _("Not joined"), "joined": _("Joined"), "receiving": _("Receiving"),
            "degraded": _("Degraded"), "dropped": _("Dropped")}


# --- helpers ------------------------------------------------------------------------------------

def event_or_404(event_id: int, *, manage: bool = False) -> Event:
    """The event if the current user may see it (and, with `manage`, edit it): orchestrator.policy."""
    event = db.session.get(Event, event_id)
    if event is not None and event.kind not in ("conference", "report"):
        event = None
    return authorize(Action.EDIT if manage else Action.VIEW, event)


def local_input(value: datetime | None) -> str:
    local = to_local(value)
    return local.strftime("%Y-%m-%dT%H:%M") if local else ""


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def input_from(source: Mapping[str, Any], site_ids: list[Any], kind: str) -> EventInput:
    """An EventInput from a form or a JSON body (times as local 'YYYY-MM-DDTHH:MM' or ISO with offset)."""
    series_id = _int(source.get("series_id"))
    new_series = str(source.get("new_series") or "").strip()
    if new_series:
        series_id = ensure_series(new_series).id
    return EventInput(
        kind=kind, title=str(source.get("title") or ""), description=str(source.get("description") or ""),
        starts_at=parse_local(source.get("starts_at")), ends_at=parse_local(source.get("ends_at")),
        series_id=series_id, host_site_id=_int(source.get("host_site_id")),
        site_ids=[i for i in (_int(v) for v in site_ids) if i is not None],
        speaker_id=_int(source.get("speaker_id")), studio_site_id=_int(source.get("studio_site_id")),
        confidential=str(source.get("confidential") or "").lower() in ("1", "on", "true", "yes"),
        language=str(source.get("language") or "vi")[:10],
        monthly_count=_int(source.get("monthly_count")) or 1,
    )


def _form_context(event: Event | None, kind: str, values: Mapping[str, Any] | None = None,
                  site_ids: list[int] | None = None) -> dict[str, Any]:
    top = roots()
    host_choices = list(db.session.execute(db.select(Site).where(Site.depth <= 1)
                                           .order_by(Site.path)).scalars())
    selected: list[Site] = []
    if site_ids:
        selected = list(db.session.execute(db.select(Site).where(Site.id.in_(site_ids))
                                           .order_by(Site.depth, Site.path)).scalars())
    elif event is not None:
        selected = [p.site for p in participations(event)]
    return {"event": event, "kind": kind, "values": values or {}, "series": all_series(), "roots": top,
            "host_choices": host_choices, "levels": levels_in_use(),
            "level_names": {lv: level_label(lv) for lv in levels_in_use()}, "speakers": speakers(),
            "selected_sites": [s.to_dict() for s in selected], "level_label": level_label,
            "override_allowed": allows(current_user, Action.APPROVE, Event)}


def _event_values(event: Event) -> dict[str, Any]:
    return {"title": event.title, "description": event.description, "series_id": event.series_id,
            "starts_at": local_input(event.starts_at), "ends_at": local_input(event.ends_at),
            "host_site_id": event.host_site_id, "speaker_id": event.speaker_id,
            "studio_site_id": event.studio_site_id, "confidential": event.confidential, "language": event.language}


# --- calendar -----------------------------------------------------------------------------------

@bp.get("/")
@login_required
def calendar():
    view = request.args.get("view", "month")
    if view not in ("month", "week", "list"):
        view = "month"
    try:
        day = date.fromisoformat(request.args.get("date", ""))
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:  # the grid around year 9999 overflows
            raise ValueError("out of range")
    except ValueError:
        day = datetime.now(TZ).date()
    if view == "month":
        first = day.replace(day=1)
        grid_start = first - timedelta(days=first.weekday())
        weeks = (pycal.monthrange(first.year, first.month)[1] + first.weekday() + 6) // 7
        days = [grid_start + timedelta(days=i) for i in range(weeks * 7)]
        prev_day = (first - timedelta(days=1)).replace(day=1)
        next_day = (first + timedelta(days=32)).replace(day=1)
    elif view == "week":
        grid_start = day - timedelta(days=day.weekday())
        days = [grid_start + timedelta(days=i) for i in range(7)]
        prev_day, next_day = grid_start - timedelta(days=7), grid_start + timedelta(days=7)
    else:
        grid_start = day
        days = [day + timedelta(days=i) for i in range(60)]
        prev_day, next_day = day - timedelta(days=60), day + timedelta(days=60)
    start = datetime.combine(days[0], datetime.min.time(), TZ).astimezone(UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), TZ).astimezone(UTC)
    events = events_between(current_user, start, end)
    by_day: dict[date, list[Event]] = {}
    for ev in events:
        local_start, local_end = to_local(ev.starts_at), to_local(ev.ends_at)
        d = local_start.date()
        while d <= (local_end - timedelta(seconds=1)).date():
            by_day.setdefault(d, []).append(ev)
            d += timedelta(days=1)
    return render_template("events/calendar.html", view=view, day=day, days=days, by_day=by_day, events=events,
                           prev_day=prev_day, next_day=next_day, today=datetime.now(TZ).date(), to_local=to_local)


# --- create / edit ------------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@roles_required("technician")
def new():
    kind = request.values.get("kind", "conference")
    if kind not in ("conference", "report"):
        abort(404)
    if request.method == "POST":
        site_ids = request.form.getlist("site_ids")
        try:
            data = input_from(request.form, site_ids, kind)
            created = create_event(current_user, data, override=bool(request.form.get("override")))
        except SchedulingError as exc:
            db.session.rollback()
            flash(scheduling_message(exc), "error")
            return render_template("events/form.html", **_form_context(
                None, kind, request.form, [int(i) for i in site_ids if str(i).isdigit()])), 400
        if len(created) > 1:
            flash(_("%(n)s monthly occurrences were scheduled.", n=len(created)), "info")
        return redirect(url_for("events.detail", event_id=created[0].id))
    values = {"starts_at": "", "ends_at": "", "language": "vi"}
    return render_template("events/form.html", **_form_context(None, kind, values))


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@roles_required("technician")
def edit(event_id: int):
    event = event_or_404(event_id, manage=True)
    if request.method == "POST":
        site_ids = request.form.getlist("site_ids")
        try:
            data = input_from(request.form, site_ids, event.kind)
            update_event(event, current_user, data, override=bool(request.form.get("override")))
        except SchedulingError as exc:
            db.session.rollback()
            flash(scheduling_message(exc), "error")
            return render_template("events/form.html", **_form_context(
                event, event.kind, request.form, [int(i) for i in site_ids if str(i).isdigit()])), 400
        flash(_("The event was saved."), "info")
        return redirect(url_for("events.detail", event_id=event.id))
    return render_template("events/form.html", **_form_context(event, event.kind, _event_values(event)))


# --- the event page -----------------------------------------------------------------------------

@bp.get("/<int:event_id>")
@login_required
def detail(event_id: int):
    event = event_or_404(event_id)
    counts = participant_counts(event)
    offset, limit = page_bounds(request.args.get("offset"), EVENT_PAGE_SIZE, EVENT_PAGE_SIZE)
    page = participation_page(event, offset=_on_a_page(offset, limit, counts.sites), limit=limit, counts=counts)
    return render_template("events/detail.html", event=event, counts=counts, page=page, documents=documents(event),
                           manage=allows(current_user, Action.EDIT, event), to_local=to_local, level_label=level_label,
                           state_labels=state_labels(), endpoint="events.detail", args={"event_id": event.id},
                           anchor="#participants")


def _on_a_page(offset: int, limit: int, total: int) -> int:
    """A page's offset past the end (an old link after sites were removed) shows the last page instead."""
    return offset if offset < total else max(0, (total - 1) // limit * limit)


def _live_transition(event_id: int, transition, done_message: str):
    """Start or stop from the event or wall page, then go back where the technician was."""
    event = event_or_404(event_id, manage=True)
    try:
        transition(event, current_user)
        flash(done_message, "info")
    except LiveError as exc:
        flash(live_message(exc), "error")
    return redirect(request.form.get("next") if request.form.get("next", "").startswith("/")
                    else url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/start")
@roles_required("technician")
def start(event_id: int):
    return _live_transition(event_id, start_event, _("The event is live."))


@bp.post("/<int:event_id>/stop")
@roles_required("technician")
def stop(event_id: int):
    return _live_transition(event_id, stop_event, _("The event has ended."))


@bp.post("/<int:event_id>/cancel")
@roles_required("technician")
def cancel(event_id: int):
    event = event_or_404(event_id, manage=True)
    try:
        cancel_event(event, current_user)
        flash(_("The event was cancelled."), "info")
    except SchedulingError as exc:
        flash(scheduling_message(exc), "error")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.post("/<int:event_id>/sites")
@roles_required("technician")
def add_site(event_id: int):
    event = event_or_404(event_id, manage=True)
    code = request.form.get("code", "").strip()
    site = db.session.execute(db.select(Site).filter_by(code=code)).scalar_one_or_none() if code else None
    if site is None:
        flash(_("No site has the code %(code)s.", code=code or "–"), "error")
    else:
        try:
            add_participant(event, site, current_user, override=bool(request.form.get("override")))
            flash(_("%(site)s was added.", site=site.name), "info")
        except SchedulingError as exc:
            db.session.rollback()
            flash(scheduling_message(exc), "error")
    return redirect(url_for("events.detail", event_id=event.id) + "#participants")


@bp.post("/<int:event_id>/sites/<int:site_id>/remove")
@roles_required("technician")
def remove_site(event_id: int, site_id: int):
    event = event_or_404(event_id, manage=True)
    try:
        remove_participant(event, site_id, current_user)
    except SchedulingError as exc:
        flash(scheduling_message(exc), "error")
    return redirect(url_for("events.detail", event_id=event.id) + "#participants")


@bp.post("/<int:event_id>/sites/<int:site_id>/revoke")
@roles_required("technician")
def revoke_link(event_id: int, site_id: int):
    event = event_or_404(event_id, manage=True)
    p = _participation_or_404(event, site_id)
    revoke(p, current_user)
    flash(_("The old link of %(site)s no longer works. Send the new link or QR code.", site=p.site.name), "info")
    return redirect(url_for("events.detail", event_id=event.id) + "#participants")


def _participation_or_404(event: Event, site_id: int) -> Participation:
    p = db.session.execute(db.select(Participation).filter_by(event_id=event.id, site_id=site_id)
                           ).scalar_one_or_none()
    if p is None:
        abort(404)
    return p


# --- invitations --------------------------------------------------------------------------------

@bp.get("/<int:event_id>/invitations")
@roles_required("technician")
def invitations(event_id: int):
    event = event_or_404(event_id, manage=True)
    layout = "table" if request.args.get("layout") == "table" else "pages"
    counts = participant_counts(event)
    size = counts.sites if 0 < counts.sites <= INVITATIONS_WHOLE_MAX else INVITATIONS_PAGE_SIZE
    offset, limit = page_bounds(request.args.get("offset"), size, size)
    page = participation_page(event, offset=_on_a_page(offset, limit, counts.sites), limit=limit, counts=counts)
    # Links are signed and QR codes drawn for this page's sites only; the sheet job makes all of them.
    links = {p.site_id: join_url(p) for p in page.items}
    return render_template("events/invitations.html", event=event, page=page, participations=page.items,
                           links=links, qrs={site_id: Markup(qr_svg(url)) for site_id, url in links.items()},
                           to_local=to_local, layout=layout, level_label=level_label,
                           endpoint="events.invitations", args={"event_id": event.id, "layout": layout}, anchor="")


@bp.get("/<int:event_id>/invitations/sheet/status")
@roles_required("technician")
def invitation_sheet_status(event_id: int):
    return jsonify(sheet_state(event_or_404(event_id, manage=True)))


@bp.post("/<int:event_id>/invitations/sheet")
@roles_required("technician")
def invitation_sheet_request(event_id: int):
    return jsonify(request_sheet(event_or_404(event_id, manage=True), current_user)), 202


@bp.get("/<int:event_id>/invitations/sheet")
@roles_required("technician")
def invitation_sheet_download(event_id: int):
    event = event_or_404(event_id, manage=True)
    key = stored_sheet_key(event)
    if key is None:
        abort(404)
    return redirect(signed_url(key, expires_s=300, filename=f"invitations-{event.id}.html"))


@bp.get("/<int:event_id>/sites/<int:site_id>/qr.<fmt>")
@roles_required("technician")
def qr(event_id: int, site_id: int, fmt: str):
    event = event_or_404(event_id, manage=True)
    p = _participation_or_404(event, site_id)
    url = join_url(p)
    if fmt == "png":
        return Response(qr_png(url), mimetype="image/png", headers={"Cache-Control": "private, no-store"})
    if fmt == "svg":
        return Response(qr_svg(url).encode(), mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})
    abort(404)


@bp.get("/<int:event_id>/event.ics")
@login_required
def ics(event_id: int):
    event = event_or_404(event_id)
    body = event_ics(event, url=url_for("events.detail", event_id=event.id, _external=True))
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="event-{event.id}.ics"'})


# --- documents ----------------------------------------------------------------------------------

@bp.post("/<int:event_id>/documents")
@roles_required("technician")
@accepts_upload
def upload_document(event_id: int):
    event = event_or_404(event_id, manage=True)
    files = [f for f in request.files.getlist("document") if f and f.filename]
    if not files:
        flash(_("Choose a document to attach."), "error")
    for file in files:
        try:
            add_document(event, file.filename, file.read(), current_user)
        except DocumentError as exc:
            db.session.rollback()
            flash(f"{file.filename}: {document_message(exc)}", "error")
    return redirect(url_for("events.detail", event_id=event.id) + "#documents")


@bp.post("/<int:event_id>/documents/<int:doc_id>/delete")
@roles_required("technician")
def remove_document(event_id: int, doc_id: int):
    event = event_or_404(event_id, manage=True)
    doc = db.session.get(EventDocument, doc_id)
    if doc is None or doc.event_id != event.id:
        abort(404)
    delete_document(doc, current_user)
    return redirect(url_for("events.detail", event_id=event.id) + "#documents")


@bp.get("/<int:event_id>/documents/<int:doc_id>")
@login_required
def download_document(event_id: int, doc_id: int):
    event = event_or_404(event_id)
    doc = db.session.get(EventDocument, doc_id)
    if doc is None or doc.event_id != event.id:
        abort(404)
    return redirect(signed_url(doc.storage_key, expires_s=300, filename=doc.filename))
