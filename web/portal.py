"""The public portal: latest clips and the clip page with the adaptive player and subtitles. No login."""
from __future__ import annotations

import posixpath

from flask import Blueprint, Response, abort, redirect, render_template, send_file

from orchestrator import core
from orchestrator.models import Publication
from orchestrator.pipeline import count_view, portal_publication, published_on_portal
from orchestrator.stages import media_prefix
from orchestrator.storage import StorageError

bp = Blueprint("portal", __name__)


def _publication_or_404(slug: str) -> Publication:
    return portal_publication(slug) or abort(404)


@bp.get("/")
def home():
    return render_template("portal/home.html", publications=published_on_portal())


@bp.get("/v/<slug>")
def clip(slug: str):
    pub = _publication_or_404(slug)
    count_view(pub)
    rec = pub.recording
    subtitles = [a for a in rec.assets if a.kind == "subtitles_vtt"]
    transcript = next((t for t in _transcripts(rec.id)), None)
    hls_asset = rec.asset("hls")
    master = hls_asset.storage_key.split("/hls/", 1)[1] if hls_asset else None
    return render_template("portal/clip.html", pub=pub, recording=rec, event=rec.event, master=master,
                           poster=rec.asset("poster"), subtitles=subtitles, transcript=transcript)


def _transcripts(recording_id: int):
    from orchestrator.db import db
    from orchestrator.models import Transcript

    return db.session.execute(db.select(Transcript).filter_by(recording_id=recording_id)
                              .order_by(Transcript.version.desc())).scalars()


def _serve_key(key: str, mimetype: str | None = None, max_age: int = 3600):
    """Small text (playlists, subtitles) is served from here so relative URLs stay on the portal;
    everything else goes to storage directly when it can (presigned S3), or is sent from disk."""
    store = core.storage()
    try:
        if mimetype and (mimetype.startswith("application/vnd.apple") or mimetype.startswith("text/")):
            response = Response(store.get_bytes(key), mimetype=mimetype)
            response.cache_control.public, response.cache_control.max_age = True, 60
            return response
        url = store.presigned_url(key, expires_s=3600)
        if url:
            return redirect(url, code=302)
        path = store.local_path(key)
    except StorageError:
        abort(404)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=mimetype, conditional=True, max_age=max_age)


@bp.get("/v/<slug>/hls/<path:name>")
def hls(slug: str, name: str):
    pub = _publication_or_404(slug)
    name = posixpath.normpath(name)
    if name.startswith(("../", "/")) or name == "..":
        abort(404)
    mimetype = "application/vnd.apple.mpegurl" if name.endswith(".m3u8") else (
        "video/mp4" if name.endswith((".mp4", ".m4s")) else None)
    return _serve_key(f"{media_prefix(pub.recording)}/hls/{name}", mimetype)


@bp.get("/v/<slug>/subtitles/<language>.vtt")
def subtitles(slug: str, language: str):
    asset = _publication_or_404(slug).recording.asset("subtitles_vtt", language) or abort(404)
    return _serve_key(asset.storage_key, "text/vtt")


@bp.get("/v/<slug>/poster.jpg")
def poster(slug: str):
    asset = _publication_or_404(slug).recording.asset("poster") or abort(404)
    return _serve_key(asset.storage_key, "image/jpeg")
