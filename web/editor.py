"""The transcript editor in the panel: the transcript beside the video, cue by cue, with versions.

Editors and technicians only. Saving stores a new version (who and when) and re-renders the
subtitle files; older versions stay readable and can be restored (saved again as the newest).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from orchestrator.db import db
from orchestrator.glossary import set_event_glossary, terms_for
from orchestrator.models import Recording, User, audit
from orchestrator.models import Transcript as TranscriptRow
from orchestrator.policy import Action, Subject
from orchestrator.transcripts import LOW_CONFIDENCE, EditError, current, languages, save_edit, versions

from .auth import authorize, permission_required
from .files import signed_url
from .templating import local_time

bp = Blueprint("editor", __name__, url_prefix="/panel/recordings/<int:recording_id>/transcript")

LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
VIDEO_URL_TTL_S = 6 * 3600  # an editing session is long; the link only opens this recording's video


def _recording_or_404(recording_id: int) -> Recording:
    return authorize(Action.EDIT, db.session.get(Recording, recording_id), Subject.TRANSCRIPT)


def edit_message(exc: EditError) -> str:
    n = exc.params.get("number", "")
    messages = {
        "cues_invalid": _("The subtitles could not be read. Reload the page and try again."),
        "cues_too_many": _("There are too many cues to save at once."),
        "cue_time_invalid": _("Cue %(n)s has a wrong time: the end must be after the start, within the video.", n=n),
        "cue_empty": _("Cue %(n)s has no text. Type its text or delete the cue.", n=n),
        "cue_too_long": _("Cue %(n)s is too long. Split it into shorter cues.", n=n),
        "cue_overlap": _("Cue %(n)s starts before the previous cue ends. Correct the times.", n=n),
        "version_conflict": _("Someone else saved this transcript meanwhile (version %(v)s). Reload the page to "
                              "see their changes; copy your text first if you need it.", v=exc.params.get("latest")),
    }
    return messages.get(exc.code, _("The transcript could not be saved (%(code)s).", code=exc.code))


def _version_json(row: TranscriptRow) -> dict:
    author = db.session.get(User, row.created_by_id) if row.created_by_id else None
    return {
        "version": row.version,
        "source": row.source,
        "source_label": _("automatic") if row.source == "automatic" else _("edited"),
        "author": (author.display_name or author.username) if author else None,
        "created_at": local_time(row.created_at),
        "cues": len(row.cues or []),
    }


def _video_url(recording: Recording) -> str | None:
    asset = recording.asset("mp4") or recording.asset("audio")
    return signed_url(asset.storage_key, expires_s=VIDEO_URL_TTL_S) if asset else None


@bp.get("")
@permission_required(Action.EDIT, Recording, Subject.TRANSCRIPT)
def default(recording_id: int):
    rec = _recording_or_404(recording_id)
    langs = languages(rec.id)
    if not langs:
        flash(_("This recording has no transcript yet. Wait until the subtitles step is done."), "error")
        return redirect(url_for("panel.recording", recording_id=rec.id))
    return redirect(url_for("editor.page", recording_id=rec.id, language=langs[0]))


@bp.get("/<language>")
@permission_required(Action.EDIT, Recording, Subject.TRANSCRIPT)
def page(recording_id: int, language: str):
    rec = _recording_or_404(recording_id)
    row = current(rec.id, language) or abort(404)
    data = {
        "language": language,
        "version": row.version,
        "cues": row.cues or [],
        "threshold": LOW_CONFIDENCE,
        "duration": rec.duration_s,
        "save_url": url_for("editor.save", recording_id=rec.id, language=language),
        "version_url": url_for("editor.version", recording_id=rec.id, language=language, number=0)[:-1],
        "versions": [_version_json(v) for v in versions(rec.id, language)],
    }
    return render_template("editor/editor.html", recording=rec, language=language, data=data,
                           languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in languages(rec.id)],
                           video_url=_video_url(rec), glossary="\n".join(terms_for(rec.event)),
                           event_glossary=rec.event.glossary or "")


@bp.get("/<language>/versions/<int:number>")
@permission_required(Action.EDIT, Recording, Subject.TRANSCRIPT)
def version(recording_id: int, language: str, number: int):
    rec = _recording_or_404(recording_id)
    row = db.session.execute(db.select(TranscriptRow).filter_by(recording_id=rec.id, language=language,
                                                                version=number)).scalar_one_or_none() or abort(404)
    return jsonify({**_version_json(row), "text": row.text, "cue_list": row.cues or []})


@bp.post("/<language>")
@permission_required(Action.EDIT, Recording, Subject.TRANSCRIPT)
def save(recording_id: int, language: str):
    rec = _recording_or_404(recording_id)
    if current(rec.id, language) is None:
        abort(404)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="cues_invalid", message=edit_message(EditError("cues_invalid"))), 400
    base = body.get("base_version")
    try:
        row = save_edit(rec, language, body.get("cues"), current_user, base if isinstance(base, int) else None)
    except EditError as exc:
        db.session.rollback()
        status = 409 if exc.code == "version_conflict" else 400
        return jsonify(error=exc.code, message=edit_message(exc)), status
    except IntegrityError:  # two saves of the same version at the same moment
        db.session.rollback()
        latest = current(rec.id, language)
        exc = EditError("version_conflict", latest=latest.version if latest else 0)
        return jsonify(error=exc.code, message=edit_message(exc)), 409
    return jsonify(saved=True, version=row.version, message=_("Saved as version %(v)s. The subtitles were updated.",
                                                              v=row.version),
                   versions=[_version_json(v) for v in versions(rec.id, language)]), 201


@bp.post("/glossary")
@permission_required(Action.EDIT, Recording, Subject.TRANSCRIPT)
def glossary(recording_id: int):
    rec = _recording_or_404(recording_id)
    terms = set_event_glossary(rec.event, request.form.get("glossary", ""))
    audit(current_user, "event.glossary", rec.event, terms=len(terms))
    db.session.commit()
    flash(_("Glossary saved (%(n)s terms). It is used the next time this event is transcribed.", n=len(terms)),
          "success")
    back = request.form.get("language") or ""
    if back and current(rec.id, back) is not None:
        return redirect(url_for("editor.page", recording_id=rec.id, language=back))
    return redirect(url_for("editor.default", recording_id=rec.id))
