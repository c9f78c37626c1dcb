"""Admin: publishing destinations and their credentials. Credentials are write-only: the form never
shows them back (only masked), a blank field keeps the stored value, and they are stored encrypted."""
from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from orchestrator.db import db
from orchestrator.models import Channel, audit
from orchestrator.outbound import OutboundRefused, check_url
from orchestrator.policy import Action
from orchestrator.publishing import adapter_classes
from orchestrator.publishing.base import PublishError
from orchestrator.publishing.service import build_adapter, token_warnings
from orchestrator.scheduling import EARLIEST_YEAR, LATEST_YEAR
from orchestrator.secrets import masked_credentials, set_channel_credentials

from .auth import authorize, permission_required
from .publish import publish_error

bp = Blueprint("channels", __name__, url_prefix="/admin/channels")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# The adapters' field labels (orchestrator knows no Flask-Babel), listed here so they are translated.
FIELD_LABELS = {
    "Privacy": _l("Privacy"), "Category id": _l("Category id"),
    "Upload chunk (KiB, multiple of 256)": _l("Upload chunk (KiB, multiple of 256)"),
    "API address (leave empty)": _l("API address (leave empty)"),
    "OAuth token address (leave empty)": _l("OAuth token address (leave empty)"),
    "OAuth client id": _l("OAuth client id"), "OAuth client secret": _l("OAuth client secret"),
    "Refresh token": _l("Refresh token"), "Upload chunk (MB, 5–64)": _l("Upload chunk (MB, 5–64)"),
    "Client key": _l("Client key"), "Client secret": _l("Client secret"), "Page id": _l("Page id"),
    "App id": _l("App id"), "Graph API version": _l("Graph API version"),
    "Graph API address (leave empty)": _l("Graph API address (leave empty)"),
    "Graph video address (leave empty)": _l("Graph video address (leave empty)"),
    "User access token (uploads)": _l("User access token (uploads)"), "Page access token": _l("Page access token"),
    "OAuth address (leave empty)": _l("OAuth address (leave empty)"), "App secret key": _l("App secret key"),
    "Site address": _l("Site address"), "User name": _l("User name"),
    "Application password": _l("Application password"),
}


def destination_problem(url: str) -> str | None:
    """Why the server must not connect to `url` (a message for the admin), or None."""
    try:
        check_url(url)
    except OutboundRefused as exc:
        return _("The address %(url)s is not allowed: it is not a public internet address (%(reason)s). "
                 "An intranet server must be listed in DIEMCAU_OUTBOUND_ALLOW.", url=url, reason=exc.reason)
    except OSError:
        return _("The address %(url)s could not be found. Check the host name.", url=url)
    return None


def field_label(label: str) -> str:
    return str(FIELD_LABELS.get(label, label))


def _channel_or_404(channel_id: int, action: Action = Action.EDIT) -> Channel:
    return authorize(action, db.session.get(Channel, channel_id))


@bp.get("/")
@permission_required(Action.EDIT, Channel)
def index():
    channels = db.session.execute(db.select(Channel).order_by(Channel.id)).scalars().all()
    return render_template("channels/index.html", channels=channels, classes=adapter_classes(),
                           warnings=dict((c.id, expired) for c, expired in token_warnings()))


@bp.route("/new/<kind>", methods=["GET", "POST"])
@permission_required(Action.EDIT, Channel)
def new(kind: str):
    cls = adapter_classes().get(kind)
    if cls is None or kind == "portal":
        abort(404)
    channel = Channel(kind=kind, name=cls.label, enabled=True, settings={})
    if request.method == "POST":
        db.session.add(channel)
        return _save(channel, cls)
    return render_template("channels/edit.html", channel=channel, cls=cls, masked={}, field_label=field_label)


@bp.route("/<int:channel_id>", methods=["GET", "POST"])
@permission_required(Action.EDIT, Channel)
def edit(channel_id: int):
    channel = _channel_or_404(channel_id)
    cls = adapter_classes().get(channel.kind) or abort(404)
    if request.method == "POST":
        return _save(channel, cls)
    return render_template("channels/edit.html", channel=channel, cls=cls, masked=masked_credentials(channel),
                           field_label=field_label)


def _save(channel: Channel, cls):
    form = request.form
    channel.name = form.get("name", "").strip()[:200] or cls.label
    channel.enabled = bool(form.get("enabled"))
    settings = dict(channel.settings or {})
    for spec in cls.settings_fields:
        value = form.get(f"setting_{spec.name}", "").strip()[:2000]
        if spec.choices and value and value not in spec.choices:
            abort(400)
        if spec.url and value:
            problem = destination_problem(value)
            if problem:
                db.session.rollback()
                flash(problem, "error")
                return render_template("channels/edit.html", channel=channel, cls=cls, field_label=field_label,
                                       masked=masked_credentials(channel)), 400
        if value:
            settings[spec.name] = value
        else:
            settings.pop(spec.name, None)
    channel.settings = settings
    set_channel_credentials(channel, {spec.name: form.get(f"secret_{spec.name}", "").strip()
                                      for spec in cls.credential_fields})
    expires = form.get("credentials_expire_at", "").strip()
    if expires:
        try:
            day = datetime.fromisoformat(expires).date()
            if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                raise ValueError("out of range")
        except ValueError:
            flash(_("Enter the expiry as a date."), "error")
            return render_template("channels/edit.html", channel=channel, cls=cls, field_label=field_label,
                                   masked=masked_credentials(channel)), 400
        channel.credentials_expire_at = datetime.combine(day, time(23, 59), LOCAL_TZ).astimezone(UTC)
    elif form.get("clear_expiry"):
        channel.credentials_expire_at = None
    db.session.flush()
    # The audit records which fields changed, never their values.
    audit(current_user, "channel.save", channel, kind=channel.kind,
          credentials_changed=sorted(s.name for s in cls.credential_fields if form.get(f"secret_{s.name}")))
    db.session.commit()
    flash(_("Channel saved."), "info")
    return redirect(url_for("channels.edit", channel_id=channel.id))


@bp.post("/<int:channel_id>/check")
@permission_required(Action.START, Channel)
def check(channel_id: int):
    channel = _channel_or_404(channel_id, Action.START)
    try:
        build_adapter(channel).check()
        # Only whether it worked: what the remote answered is not kept (it may not be who we think).
        channel.last_check = {"ok": True, "at": datetime.now(UTC).isoformat()}
        flash(_("The channel answered: the credentials work."), "info")
    except PublishError as exc:
        channel.last_check = {"ok": False, "at": datetime.now(UTC).isoformat(), "error": exc.code}
        flash(publish_error(exc.code), "error")
    db.session.commit()
    return redirect(url_for("channels.edit", channel_id=channel.id))
