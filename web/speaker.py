"""Speakers' page: their own recordings with downloads (MP4, subtitles VTT/SRT, transcript TXT/DOCX)
through short-lived signed URLs. Another speaker's recordings are invisible: 404, never 403."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template
from flask_login import current_user, login_required

from orchestrator.db import db
from orchestrator.models import Event, Recording
from orchestrator.naming import storage_safe_name
from orchestrator.policy import Action, Subject, allows, own_recordings_clause
from orchestrator.publishing.exports import latest_transcript, transcript_export

from .files import signed_url

bp = Blueprint("speaker", __name__, url_prefix="/speaker")
LINK_TTL_S = 300  # a download link lives five minutes: enough to start, useless when forwarded later
FORMATS = ("mp4", "vtt", "srt", "txt", "docx")


def own_recordings(user) -> list[Recording]:
    query = (db.select(Recording).join(Event).where(own_recordings_clause(user))
             .order_by(Recording.id.desc()).limit(200))
    return list(db.session.execute(query).scalars())


def downloads(recording: Recording) -> list[dict]:
    out = []
    if recording.asset("mp4"):
        out.append({"fmt": "mp4", "lang": None, "label": "MP4"})
    for asset in recording.assets:
        if asset.kind in ("subtitles_vtt", "subtitles_srt") and asset.language:
            fmt = asset.kind.rsplit("_", 1)[1]
            out.append({"fmt": fmt, "lang": asset.language, "label": f"{fmt.upper()} ({asset.language})"})
    languages = {a.language for a in recording.assets if a.kind == "subtitles_vtt" and a.language}
    languages.add(recording.event.language)
    for lang in sorted(languages):
        if latest_transcript(recording, lang):
            out += [{"fmt": "txt", "lang": lang, "label": f"TXT ({lang})"},
                    {"fmt": "docx", "lang": lang, "label": f"DOCX ({lang})"}]
    return out


@bp.get("/")
@login_required
def index():
    recordings = own_recordings(current_user)
    return render_template("speaker/index.html", items=[(r, downloads(r)) for r in recordings])


@bp.get("/recordings/<int:recording_id>/download/<fmt>")
@bp.get("/recordings/<int:recording_id>/download/<fmt>/<lang>")
@login_required
def download(recording_id: int, fmt: str, lang: str | None = None):
    rec = db.session.get(Recording, recording_id)
    subject = Subject.RECORDING if fmt == "mp4" else Subject.TRANSCRIPT
    if rec is None or fmt not in FORMATS or not allows(current_user, Action.DOWNLOAD, rec, subject):
        abort(404)  # another speaker's recording looks exactly like one that does not exist
    base = storage_safe_name(rec.event.title + ".x").rsplit(".", 1)[0]
    if fmt == "mp4":
        asset = rec.asset("mp4") or abort(404)
        key, name = asset.storage_key, f"{base}.mp4"
    elif fmt in ("vtt", "srt"):
        asset = rec.asset(f"subtitles_{fmt}", lang) or abort(404)
        key, name = asset.storage_key, f"{base}.{lang}.{fmt}"
    else:
        key = transcript_export(rec, lang or rec.event.language, fmt) or abort(404)
        name = f"{base}.{lang or rec.event.language}.{fmt}"
    return redirect(signed_url(key, LINK_TTL_S, name), code=302)
