"""The editor's publishing page: pick channels, per-channel title/description/rendition/schedule, approve
once; then status, external link, error reason, retry and unpublish per channel."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from orchestrator.db import db
from orchestrator.models import Channel, Publication, Recording
from orchestrator.pipeline import UserFacingError
from orchestrator.policy import Action
from orchestrator.publishing import adapter_classes
from orchestrator.publishing.service import (
    ACTIVE,
    Choice,
    approve,
    default_rendition,
    publication_for,
    renditions,
    retry,
    stalled,
    token_warnings,
    unpublish,
)
from orchestrator.scheduling import EARLIEST_YEAR, LATEST_YEAR

from .auth import authorize, permission_required

bp = Blueprint("publish", __name__, url_prefix="/panel")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

PUBLICATION_STATUS = {
    "pending": _l("Not published"), "queued": _l("Queued"), "scheduled": _l("Scheduled"),
    "uploading": _l("Uploading"), "processing": _l("Processing on the channel"), "retrying": _l("Retrying"),
    "published": _l("Published"), "failed": _l("Failed"), "unpublishing": _l("Removing"),
    "unpublished": _l("Removed"),
}
PUBLISH_ERRORS = {
    "quota": _l("The channel's upload quota or rate limit is used up. Try again later (YouTube quotas reset daily)."),
    "expired_token": _l("The channel's login has expired or was revoked. An administrator must renew the "
                        "credentials in Channels, then retry."),
    "rejected_file": _l("The channel rejected the video file (format, size or length). Choose another rendition "
                        "or a shorter cut."),
    "auth": _l("The account has no permission to post there. Check the channel's permissions."),
    "config": _l("The channel is not configured completely. An administrator must check it in Channels."),
    "network": _l("The channel could not be reached. The upload resumes automatically where it stopped."),
    "remote": _l("The channel reported an error. Retry; if it happens again, see the details."),
    "processing_timeout": _l("The channel is still processing the video; the status is checked again later."),
    "no_rendition": _l("There is no video file to publish yet: wait until processing has finished."),
    "unsupported": _l("This channel does not allow removing posts through its API: remove it in the app."),
    "not_found": _l("The post no longer exists on the channel."),
    "internal": _l("An internal error occurred; the step will be retried."),
    "confidential": _l("Confidential events are never published."),
    "channel_disabled": _l("This channel is disabled."),
    "outbound_refused": _l("The channel's address is not a public internet address, so the server does not "
                           "connect to it. An administrator can allow an intranet server with "
                           "DIEMCAU_OUTBOUND_ALLOW."),
}


def publish_error(code: str | None) -> str:
    return str(PUBLISH_ERRORS.get(code or "", _("An error occurred (%(code)s).", code=code)))


def _recording_or_404(recording_id: int) -> Recording:
    return authorize(Action.APPROVE, db.session.get(Recording, recording_id))


def _publication_or_404(pub_id: int) -> Publication:
    return authorize(Action.APPROVE, db.session.get(Publication, pub_id))


def publication_json(pub: Publication) -> dict:
    return {
        "id": pub.id, "channel": pub.channel.name, "kind": pub.channel.kind, "status": pub.status,
        "status_label": str(PUBLICATION_STATUS.get(pub.status, pub.status)),
        "external_url": pub.external_url, "error_code": pub.error_code,
        "error": publish_error(pub.error_code) if pub.error_code else None,
        "detail": pub.error if pub.error_code else None, "attempts": pub.attempts,
        "can_retry": pub.status in ("failed", "unpublished") or stalled(pub),
        "can_unpublish": pub.status in ("published", "processing", "failed") and bool(
            pub.external_id or pub.channel.kind == "portal"),
        "active": pub.status in ACTIVE,
    }


@bp.get("/recordings/<int:recording_id>/publish")
@permission_required(Action.APPROVE, Recording)
def page(recording_id: int):
    rec = _recording_or_404(recording_id)
    channels = db.session.execute(db.select(Channel).where(Channel.enabled.is_(True))
                                  .order_by(Channel.id)).scalars().all()
    classes = adapter_classes()
    rows = []
    for channel in channels:
        cls = classes.get(channel.kind)
        if cls is None:
            continue
        pub = publication_for(rec, channel)
        chosen = default_rendition(rec, cls)
        rows.append({"channel": channel, "pub": pub, "status": publication_json(pub) if pub else None,
                     "default_asset": chosen.asset_id if chosen else None, "label": cls.label})
    warnings = token_warnings()
    return render_template("publish/recording.html", recording=rec, event=rec.event, rows=rows,
                           renditions=renditions(rec), warnings=warnings, status_labels=PUBLICATION_STATUS)


def _parse_local(value: str) -> datetime | None:
    if not value:
        return None
    try:
        local = datetime.fromisoformat(value)
        if local.tzinfo is None:
            local = local.replace(tzinfo=LOCAL_TZ)
        moment = local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise UserFacingError("bad_schedule") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise UserFacingError("bad_schedule")
    return moment


@bp.post("/recordings/<int:recording_id>/publish")
@permission_required(Action.APPROVE, Recording)
def approve_view(recording_id: int):
    rec = _recording_or_404(recording_id)
    form = request.form
    choices = []
    try:
        for value in form.getlist("channel"):
            if not value.isdigit():
                abort(400)
            cid = int(value)
            asset = form.get(f"asset_{cid}", "")
            title = form.get(f"title_{cid}", "").strip() or rec.event.title
            privacy = form.get(f"privacy_{cid}", "public")
            if privacy not in ("public", "unlisted", "private"):
                abort(400)
            choices.append(Choice(channel_id=cid, title=title, description=form.get(f"description_{cid}", ""),
                                  asset_id=int(asset) if asset.isdigit() else None, privacy=privacy,
                                  scheduled_at=_parse_local(form.get(f"schedule_{cid}", "")),
                                  allow_download=bool(form.get(f"download_{cid}"))))
        if not choices:
            flash(_("Choose at least one channel."), "error")
            return redirect(url_for("publish.page", recording_id=rec.id))
        approve(rec, choices, current_user)
    except UserFacingError as exc:
        db.session.rollback()
        message = _("Enter the schedule as a date and time.") if exc.code == "bad_schedule" else publish_error(exc.code)
        flash(message, "error")
        return redirect(url_for("publish.page", recording_id=rec.id))
    flash(_("Approved: one publishing job per channel was started."), "info")
    return redirect(url_for("publish.page", recording_id=rec.id))


@bp.post("/publications/<int:pub_id>/retry")
@permission_required(Action.APPROVE, Recording)
def retry_view(pub_id: int):
    pub = _publication_or_404(pub_id)
    if not retry(pub, current_user):
        flash(publish_error(pub.error_code) if pub.error_code else _("Nothing to retry."), "error")
    return redirect(url_for("publish.page", recording_id=pub.recording_id))


@bp.post("/publications/<int:pub_id>/unpublish")
@permission_required(Action.APPROVE, Recording)
def unpublish_view(pub_id: int):
    pub = _publication_or_404(pub_id)
    if not unpublish(pub, current_user):
        flash(_("Only published clips can be removed."), "error")
    return redirect(url_for("publish.page", recording_id=pub.recording_id))


@bp.get("/recordings/<int:recording_id>/publications.json")
@permission_required(Action.APPROVE, Recording)
def status_json(recording_id: int):
    rec = _recording_or_404(recording_id)
    pubs = db.session.execute(db.select(Publication).filter_by(recording_id=rec.id)
                              .order_by(Publication.id)).scalars().all()
    return jsonify(publications=[publication_json(p) for p in pubs])
