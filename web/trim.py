"""The editor's cutting room: trim (in/out points, middle cuts) on a frame-accurate preview,
vertical social cuts, and stopping media jobs (the transcode stage, trims, social cuts).

Thin: every decision and job lives in orchestrator.products.
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from media import MediaError
from media.social import MAX_SECONDS, MODES
from orchestrator import products as prod
from orchestrator.db import db
from orchestrator.models import Recording
from orchestrator.pipeline import UserFacingError
from orchestrator.policy import Action

from .auth import authorize, permission_required
from .files import signed_url
from .messages import error_message, status_label

bp = Blueprint("trim", __name__, url_prefix="/panel/recordings")

MODE_LABELS = {"centre": _l("Centre crop"), "blur": _l("Whole picture on a blurred background")}
KIND_LABELS = {prod.TRIM: _l("Trim"), prod.SOCIAL_CUT: _l("Social cut")}
PRODUCT_STATUS = {prod.QUEUED: _l("Queued"), prod.RUNNING: _l("Running"), prod.DONE: _l("Done"),
                  prod.FAILED: _l("Failed"), prod.CANCELLED: _l("Cancelled")}


def media_message(code: str | None) -> str:
    """Messages for the codes of edits and media products (others: web.messages)."""
    messages = {
        "trim_out_of_range": _("The chosen time is outside the video, or the end comes before the start. "
                               "Pick the points again on the preview."),
        "trim_empty": _("Almost nothing would be left after these cuts. Keep at least half a second."),
        "range_too_long": _("A social cut can be at most %(s)d seconds long. Choose a shorter part.",
                            s=int(MAX_SECONDS)),
        "font_missing": _("No font with Vietnamese diacritics is installed for burned-in subtitles. "
                          "Ask the administrator to install fonts-noto-core."),
        "no_frames": _("The file has a video or sound track with nothing in it (0 frames). "
                       "Export the video again and upload it again."),
        "not_ready": _("The video has not been converted yet. Wait until the conversion step is done."),
        "subtitles_running": _("Subtitles are still being made. Trim after they are finished, "
                               "so that they follow the cut."),
        "edit_busy": _("Another trim of this recording is still running. Wait for it or stop it first."),
        "bad_mode": _("Choose how the picture is framed: centre crop or blurred background."),
        "cancelled": _("Stopped from the panel. Nothing was changed."),
        "nothing_to_cancel": _("This job is not running any more."),
    }
    return messages.get(code or "") or error_message(code)


def _recording_or_404(recording_id: int, action: Action) -> Recording:
    return authorize(action, db.session.get(Recording, recording_id))


def _product_or_404(recording: Recording, product_id: int) -> prod.MediaProduct:
    product = db.session.get(prod.MediaProduct, product_id)
    if product is None or product.recording_id != recording.id:
        abort(404)
    return product


def _payload() -> dict:
    return request.get_json(silent=True) or request.form.to_dict(flat=True)


def _error(code: str, status: int = 400):
    return jsonify(error=code, message=media_message(code)), status


@bp.get("/<int:recording_id>/edit")
@permission_required(Action.EDIT, Recording)
def page(recording_id: int):
    rec = _recording_or_404(recording_id, Action.EDIT)
    mp4 = rec.asset("mp4")
    storyboard = rec.asset("storyboard")
    context = {
        "recording": rec,
        "ready": mp4 is not None and (rec.stage("transcode") is None or rec.stage("transcode").status == "done"),
        "video_url": signed_url(mp4.storage_key, expires_s=6 * 3600) if mp4 else None,
        "poster_url": signed_url(rec.asset("poster").storage_key) if rec.asset("poster") else None,
        "storyboard": storyboard.meta if storyboard else None,
        "storyboard_url": signed_url(storyboard.meta["image"], expires_s=6 * 3600)
        if storyboard and (storyboard.meta or {}).get("image") else None,
        "fps": prod.preview_fps(rec),
        "duration": prod.edited_duration(rec),
        "source_duration": rec.duration_s or 0.0,
        "timeline": prod.current_timeline(rec),
        "loudness": (rec.asset("audio").meta or {}).get("loudness") if rec.asset("audio") else None,
        "max_social_s": MAX_SECONDS,
        "modes": [(m, MODE_LABELS[m]) for m in MODES],
        "languages": sorted(prod.latest_transcripts(rec)),
    }
    return render_template("trim/editor.html", **context)


@bp.get("/<int:recording_id>/products")
@permission_required(Action.VIEW, Recording)
def products_json(recording_id: int):
    rec = _recording_or_404(recording_id, Action.VIEW)
    return jsonify(
        duration_s=prod.edited_duration(rec),
        timeline=(t.to_json() if (t := prod.current_timeline(rec)) else None),
        products=[_product_view(p) for p in prod.products_of(rec)],
    )


def _product_view(p: prod.MediaProduct) -> dict:
    data = prod.product_json(p)
    data["kind_label"] = str(KIND_LABELS.get(p.kind, p.kind))
    data["status_label"] = str(PRODUCT_STATUS.get(p.status, p.status))
    data["message"] = media_message(p.error_code) if p.error_code else None
    data["cancel_url"] = url_for("trim.cancel_product", recording_id=p.recording_id, product_id=p.id)
    if p.kind == prod.SOCIAL_CUT and p.status == prod.DONE:
        data["download_url"] = url_for("trim.download_product", recording_id=p.recording_id, product_id=p.id)
    return data


@bp.post("/<int:recording_id>/trim")
@permission_required(Action.EDIT, Recording)
def trim(recording_id: int):
    rec = _recording_or_404(recording_id, Action.EDIT)
    data = _payload()
    try:
        product = prod.create_trim(rec, current_user, in_s=data.get("in_s"), out_s=data.get("out_s"),
                                   cuts=data.get("cuts") or [], reset=bool(data.get("reset")))
    except (MediaError, UserFacingError) as exc:
        db.session.rollback()
        return _error(exc.code, 409 if exc.code in ("edit_busy", "not_ready", "subtitles_running") else 400)
    return jsonify(_product_view(product)), 202


@bp.post("/<int:recording_id>/social-cuts")
@permission_required(Action.EDIT, Recording)
def social_cut(recording_id: int):
    rec = _recording_or_404(recording_id, Action.EDIT)
    data = _payload()
    try:
        product = prod.create_social_cut(rec, current_user, start_s=data.get("start_s"), end_s=data.get("end_s"),
                                         mode=data.get("mode") or "centre", language=data.get("language") or "vi")
    except (MediaError, UserFacingError) as exc:
        db.session.rollback()
        return _error(exc.code, 409 if exc.code == "not_ready" else 400)
    return jsonify(_product_view(product)), 202


@bp.post("/<int:recording_id>/products/<int:product_id>/cancel")
@permission_required(Action.STOP, Recording)
def cancel_product(recording_id: int, product_id: int):
    rec = _recording_or_404(recording_id, Action.STOP)
    product = _product_or_404(rec, product_id)
    if not prod.cancel_product(product, current_user):
        return _error("nothing_to_cancel", 409)
    return jsonify(_product_view(product))


@bp.get("/<int:recording_id>/products/<int:product_id>/download")
@permission_required(Action.DOWNLOAD, Recording)
def download_product(recording_id: int, product_id: int):
    rec = _recording_or_404(recording_id, Action.DOWNLOAD)
    product = _product_or_404(rec, product_id)
    key = (product.result or {}).get("key")
    if product.kind != prod.SOCIAL_CUT or product.status != prod.DONE or not key:
        abort(404)
    filename = f"social-{rec.id}-{product.id}.mp4"
    return redirect(signed_url(key, expires_s=900, filename=filename))


@bp.post("/<int:recording_id>/stages/<stage>/cancel")
@permission_required(Action.STOP, Recording)
def cancel_stage(recording_id: int, stage: str):
    rec = _recording_or_404(recording_id, Action.STOP)
    run = rec.stage(stage) or abort(404)
    stopped = prod.cancel_stage(run, current_user)
    wants_json = request.accept_mimetypes.best == "application/json" or request.is_json
    if wants_json:
        if not stopped:
            return _error("nothing_to_cancel", 409)
        return jsonify(stage=run.stage, status=run.status, status_label=status_label(run.status))
    return redirect(url_for("panel.recording", recording_id=rec.id))


def loudness_summary(meta: dict | None) -> dict | None:
    """Measured loudness for templates: integrated and true peak of the output, against the target."""
    loudness = (meta or {}).get("loudness")
    if not loudness or not loudness.get("output"):
        return None
    out = loudness["output"]
    return {"target": loudness.get("target_lufs"), "integrated": out.get("integrated"),
            "true_peak": out.get("true_peak"), "lra": out.get("lra"), "mode": loudness.get("mode"),
            "input": (loudness.get("input") or {}).get("integrated"), "ok": loudness.get("within_target")}


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["loudness_summary"] = loudness_summary
    app.jinja_env.globals["media_ready_for_edit"] = lambda rec: rec.asset("mp4") is not None
