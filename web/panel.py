"""The technicians' panel: dashboard, upload, a recording's pipeline progress."""
from __future__ import annotations

import uuid
from pathlib import Path

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from media import MediaError
from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Recording, StageRun
from orchestrator.pipeline import retry_stage, submit_file, visible_recordings, waits_for_queue
from orchestrator.policy import Action

from .auth import authorize, permission_required, roles_required
from .input_guard import accepts_upload
from .messages import STAGE_LABELS, error_message, status_label

bp = Blueprint("panel", __name__, url_prefix="/panel")
api = Blueprint("panel_api", __name__, url_prefix="/api")



def _recording_or_404(recording_id: int, action: Action = Action.VIEW) -> Recording:
    return authorize(action, db.session.get(Recording, recording_id))


@bp.get("/")
@login_required
def dashboard():
    return render_template("panel/dashboard.html", recordings=visible_recordings(current_user))


@bp.get("/upload")
@roles_required("technician", "editor")
def upload_form():
    limit_mb = core.settings().max_upload_bytes // (1024 * 1024)
    return render_template("panel/upload.html", limit_mb=limit_mb)


@bp.post("/upload")
@roles_required("technician", "editor")
@accepts_upload
def upload():
    file = request.files.get("file")
    if file is None or not file.filename:
        return jsonify(error="no_file", message=error_message("no_file")), 400
    tmp_dir = core.settings().upload_tmp_dir
    tmp_dir.mkdir(parents=True, exist_ok=True)
    # A private temp name: the user's file name never becomes a path on our disk.
    tmp = tmp_dir / f"{uuid.uuid4().hex}{Path(file.filename).suffix[:10].lower()}"
    try:
        file.save(tmp)
        recording = submit_file(tmp, original_filename=file.filename,
                                title=request.form.get("title", "").strip() or None, user=current_user,
                                language=request.form.get("language") or "vi")
    except MediaError as exc:
        db.session.rollback()
        return jsonify(error=exc.code, message=error_message(exc.code)), 400
    finally:
        tmp.unlink(missing_ok=True)
    url = url_for("panel.recording", recording_id=recording.id)
    if waits_for_queue(recording):
        # Saved, but the job queue (Redis) did not answer: the scheduler starts processing once it does.
        message = _("The file was saved. Processing will start by itself as soon as the job queue is back; "
                    "do not upload it again.")
        flash(message, "info")
        return jsonify(id=recording.id, url=url, queued=False, message=message), 201
    return jsonify(id=recording.id, url=url, queued=True), 201


@bp.get("/recordings/<int:recording_id>")
@login_required
def recording(recording_id: int):
    rec = _recording_or_404(recording_id)
    return render_template("panel/recording.html", recording=rec, status=recording_status(rec))


@bp.post("/recordings/<int:recording_id>/stages/<stage>/retry")
@permission_required(Action.START, Recording)
def retry(recording_id: int, stage: str):
    rec = _recording_or_404(recording_id, Action.START)
    run = rec.stage(stage) or abort(404)
    retry_stage(run, current_user)
    return redirect(url_for("panel.recording", recording_id=rec.id))


@api.get("/recordings/<int:recording_id>")
@login_required
def recording_json(recording_id: int):
    return jsonify(recording_status(_recording_or_404(recording_id)))


def recording_status(rec: Recording) -> dict:
    publication = next((p for p in _publications(rec) if p.status == "published"), None)
    return {
        "id": rec.id,
        "title": rec.event.title,
        "event_status": rec.event.status,
        "event_status_label": status_label(rec.event.status),
        "duration_s": rec.duration_s,
        "portal_url": url_for("portal.clip", slug=publication.slug) if publication else None,
        "stages": [_stage_json(run) for run in rec.stages],
    }


def _publications(rec: Recording):
    from orchestrator.models import Publication

    return db.session.execute(db.select(Publication).filter_by(recording_id=rec.id)).scalars()


def _stage_json(run: StageRun) -> dict:
    return {
        "stage": run.stage,
        "label": str(STAGE_LABELS.get(run.stage, run.stage)),
        "status": run.status,
        "status_label": status_label(run.status),
        "percent": round(run.percent or 0.0, 1),
        "seconds": run.seconds,
        "message": error_message(run.error_code) if run.error_code else None,
        "attempts": run.attempts,
    }
