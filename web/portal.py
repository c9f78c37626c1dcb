"""The public portal (no login): latest clips, series, the clip page with the adaptive player, subtitles,
storyboard previews and transcript, search, share/embed, RSS (Media RSS) per series, sitemap.

Pages are server-rendered and cacheable: no session or CSRF cookie, `Cache-Control` + `ETag` (a repeat
visit gets 304), `Vary` on what picks the language. Media never has to pass through Python: with
DIEMCAU_MEDIA_BASE_URL the pages point at storage (or nginx in front of it), with S3 segments redirect to
presigned URLs; only playlists and subtitles are served from here when neither is configured.
"""
from __future__ import annotations

import hashlib
import posixpath
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from markupsafe import escape
from sqlalchemy import func
from sqlalchemy.orm import selectinload

from groundwork.storage import StorageError
from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Channel, Event, Publication, Recording, Transcript
from orchestrator.pipeline import count_view, portal_publication
from orchestrator.publishing.portal import media_base_url
from orchestrator.scheduling import Series
from orchestrator.stages import media_prefix

from .extensions import csrf

bp = Blueprint("portal", __name__)
PAGE_MAX_AGE = 60         # pages: a minute (new clips appear quickly; nginx may cache them as long)
PLAYLIST_MAX_AGE = 10     # playlists: short, they are tiny and a re-publish replaces them
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def _publication_or_404(slug: str) -> Publication:
    return portal_publication(slug) or abort(404)


def cached(response: Response, max_age: int = PAGE_MAX_AGE) -> Response:
    """Public caching with a strong ETag of the body; answers 304 when the browser has it."""
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.vary.update(("Cookie", "Accept-Language"))
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


class PageCache:
    """Rendered public pages kept a few seconds per worker (DIEMCAU_PORTAL_CACHE_S, default 5; 0 turns it
    off), keyed by URL, language and a cheap fingerprint of the published set, so a publish, unpublish or
    retitle through the publishing flow shows at once. nginx may micro-cache in front as well."""

    def __init__(self, size: int = 512):
        self.size = size
        self.entries: dict[tuple, tuple[float, bytes]] = {}
        self.lock = threading.Lock()

    @staticmethod
    def ttl() -> float:
        return core.options().portal_cache_s

    def get(self, key: tuple) -> bytes | None:
        with self.lock:
            hit = self.entries.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def put(self, key: tuple, body: bytes) -> None:
        with self.lock:
            if len(self.entries) >= self.size:
                now = time.monotonic()
                self.entries = {k: v for k, v in self.entries.items() if v[0] > now}
                if len(self.entries) >= self.size:
                    self.entries.clear()
            self.entries[key] = (time.monotonic() + self.ttl(), body)


page_cache = PageCache()


def _fingerprint() -> tuple:
    row = db.session.execute(db.select(func.count(Publication.id), func.max(Publication.id),
                                       func.max(Publication.updated_at), func.max(Publication.published_at))
                             .where(Publication.status == "published")).one()
    return tuple(str(v) for v in row)


def _page(template: str, **context: Any) -> Response:
    return cached(Response(render_template(template, **context), mimetype="text/html"))


def cached_page(render) -> Response:
    """Serve the page from the short cache, or render it (a callable) and keep it."""
    if page_cache.ttl() <= 0:
        return cached(Response(render(), mimetype="text/html"))
    key = (request.full_path, str(get_locale()), _fingerprint())
    body = page_cache.get(key)
    if body is None:
        body = render().encode()
        page_cache.put(key, body)
    return cached(Response(body, mimetype="text/html"))


def media_url(key: str) -> str | None:
    """The public storage URL of a key when DIEMCAU_MEDIA_BASE_URL is configured, else None."""
    base = media_base_url()
    return f"{base}/{key}" if base else None


def _transcript(recording_id: int, language: str | None = None) -> Transcript | None:
    """The latest version in the spoken language (an edited English track must not replace it)."""
    query = db.select(Transcript).filter_by(recording_id=recording_id)
    if language:
        query = query.filter_by(language=language)
    return db.session.execute(query.order_by(Transcript.version.desc()).limit(1)).scalar_one_or_none()


def _series_of(event: Event):
    if not event.series_id:
        return None
    return db.session.get(Series, event.series_id)


def _published_query(limit: int = 50, series_id: int | None = None, text: str | None = None):
    query = (db.select(Publication).join(Channel).join(Recording, Publication.recording_id == Recording.id)
             .join(Event, Recording.event_id == Event.id)
             .where(Channel.kind == "portal", Publication.status == "published", Event.confidential.is_(False))
             .order_by(Publication.published_at.desc()).limit(limit)
             # one query per relation instead of one per card
             .options(selectinload(Publication.recording).selectinload(Recording.assets),
                      selectinload(Publication.recording).selectinload(Recording.event)))
    if series_id is not None:
        query = query.where(Event.series_id == series_id)
    if text:
        like = f"%{text}%"
        in_transcript = db.select(Transcript.recording_id).where(Transcript.text.ilike(like))
        query = query.where(Event.title.ilike(like) | Event.description.ilike(like)
                            | Recording.id.in_(in_transcript))
    return list(db.session.execute(query).scalars())


def _storyboard_url(slug: str, asset) -> str:
    """The storyboard's WebVTT (its key, or the `vtt` named in its meta when the key is the sprite)."""
    key = asset.storage_key
    if not key.endswith(".vtt") and (asset.meta or {}).get("vtt"):
        key = posixpath.join(posixpath.dirname(key), asset.meta["vtt"])
    return media_url(key) or url_for("portal.storyboard", slug=slug, name=posixpath.basename(key))


def clip_view(pub: Publication) -> dict[str, Any]:
    """Everything a clip card or page shows, with media URLs resolved (storage or portal routes)."""
    rec = pub.recording
    slug = pub.slug
    poster = rec.asset("poster")
    hls = rec.asset("hls")
    master = hls.storage_key.split("/hls/", 1)[1] if hls and "/hls/" in hls.storage_key else None
    subtitles = sorted((a for a in rec.assets if a.kind == "subtitles_vtt" and a.language),
                       key=lambda a: (a.language != rec.event.language, a.language))
    storyboard = rec.asset("storyboard")
    options = pub.options or {}
    embed_url = url_for("portal.embed", slug=slug, _external=True)
    title = pub.title or rec.event.title
    return {
        "pub": pub, "recording": rec, "event": rec.event, "slug": slug,
        "title": title, "description": pub.description or rec.event.description or "",
        "poster_url": (media_url(poster.storage_key) or url_for("portal.poster", slug=slug)) if poster else None,
        "hls_url": (media_url(hls.storage_key) or url_for("portal.hls", slug=slug, name=master)) if master else None,
        "subtitles": [{"language": a.language, "label": LANGUAGE_NAMES.get(a.language, a.language),
                       "url": media_url(a.storage_key) or url_for("portal.subtitles", slug=slug, language=a.language)}
                      for a in subtitles],
        "storyboard_url": _storyboard_url(slug, storyboard) if storyboard else None,
        "download_url": url_for("portal.download", slug=slug) if options.get("allow_download") and rec.asset("mp4")
        else None,
        "url": url_for("portal.clip", slug=slug, _external=True),
        "embed_url": embed_url,
        # A plain string, escaped where it is shown: the viewer copies it as text.
        "embed_code": f'<iframe src="{embed_url}" width="640" height="360" title="{escape(title)}" frameborder="0" '
                      f'allow="fullscreen; picture-in-picture" allowfullscreen></iframe>',
    }


# --- pages ----------------------------------------------------------------------------------------

@bp.get("/")
def home():
    def render() -> str:
        series = db.session.execute(db.select(Series).order_by(Series.name)).scalars().all()
        pubs = _published_query(24)
        return render_template("portal/home.html", publications=pubs, clips=[clip_view(p) for p in pubs],
                               series=series)
    return cached_page(render)


@bp.get("/series/<slug>")
def series(slug: str):
    row = db.session.execute(db.select(Series).filter_by(slug=slug)).scalar_one_or_none() or abort(404)
    pubs = _published_query(200, series_id=row.id)
    return _page("portal/series.html", series=row, clips=[clip_view(p) for p in pubs])


@bp.get("/v/<slug>")
def clip(slug: str):
    pub = _publication_or_404(slug)

    def render() -> str:
        transcript = _transcript(pub.recording_id, pub.recording.event.language)
        return render_template("portal/clip.html", **clip_view(pub), transcript=transcript,
                               series=_series_of(pub.recording.event),
                               captions_default=request.args.get("cc", "1") != "0")
    return cached_page(render)


@bp.get("/embed/<slug>")
def embed(slug: str):
    pub = _publication_or_404(slug)
    response = _page("portal/embed.html", **clip_view(pub), captions_default=request.args.get("cc", "1") != "0")
    return response  # embeddable (web.security_headers): the page holds no session and no form


@bp.post("/v/<slug>/view")
@csrf.exempt  # a beacon from the public player: anonymous, idempotent enough, changes only a counter
def view(slug: str):
    count_view(_publication_or_404(slug))
    return Response(status=204)


@bp.get("/v/<slug>/download.mp4")
def download(slug: str):
    pub = _publication_or_404(slug)
    asset = pub.recording.asset("mp4")
    if not (pub.options or {}).get("allow_download") or asset is None:
        abort(404)
    from orchestrator.naming import storage_safe_name

    from .files import signed_url

    return redirect(media_url(asset.storage_key) or signed_url(
        asset.storage_key, 3600, storage_safe_name((pub.title or pub.recording.event.title) + ".mp4")))


# --- feeds ----------------------------------------------------------------------------------------

def _rss(title: str, link: str, description: str, pubs: list[Publication]) -> Response:
    items = []
    for pub in pubs:
        view = clip_view(pub)
        mp4 = pub.recording.asset("mp4")
        size = None
        if mp4 is not None and view["download_url"]:
            try:
                size = core.storage().size(mp4.storage_key)
            except StorageError:
                size = None
        items.append({**view, "published": format_datetime(_utc(pub.published_at)), "mp4_size": size,
                      "duration": int(pub.recording.duration_s or 0),
                      "poster_abs": _absolute(view["poster_url"]), "hls_abs": _absolute(view["hls_url"]),
                      "download_abs": _absolute(view["download_url"])})
    # The feed changes when a clip is published, not every second: lastBuildDate is the newest
    # publication, so the ETag stays put and readers get 304s.
    newest = max((_utc(p.published_at) for p in pubs), default=datetime(2026, 1, 1, tzinfo=UTC))
    body = render_template("portal/feed.xml", title=title, link=link, description=description, items=items,
                           built=format_datetime(newest))
    return cached(Response(body, mimetype="application/rss+xml"), 300)


def _absolute(url: str | None) -> str | None:
    if not url or url.startswith(("http://", "https://")):
        return url
    return request.host_url.rstrip("/") + url


def _utc(value: datetime | None) -> datetime:
    value = value or datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@bp.get("/feed.xml")
def feed():
    return _rss("Điểm Cầu", url_for("portal.home", _external=True), "", _published_query(50))


@bp.get("/series/<slug>/feed.xml")
def series_feed(slug: str):
    row = db.session.execute(db.select(Series).filter_by(slug=slug)).scalar_one_or_none() or abort(404)
    return _rss(row.name, url_for("portal.series", slug=slug, _external=True), row.description or "",
                _published_query(100, series_id=row.id))


@bp.get("/sitemap.xml")
def sitemap():
    series_rows = db.session.execute(db.select(Series)).scalars().all()
    pubs = _published_query(5000)
    body = render_template("portal/sitemap.xml", clips=[(clip_view(p), p) for p in pubs], series=series_rows,
                           absolute=_absolute)
    return cached(Response(body, mimetype="application/xml"), 3600)


@bp.get("/robots.txt")
def robots():
    body = f"User-agent: *\nDisallow: /panel/\nDisallow: /admin/\nDisallow: /files/\n" \
           f"Sitemap: {url_for('portal.sitemap', _external=True)}\n"
    return cached(Response(body, mimetype="text/plain"), 86400)


# --- media through the portal (when storage has no public URL) ------------------------------------

def _serve_key(key: str, mimetype: str | None = None, max_age: int = 3600):
    """Small text (playlists, subtitles) is served from here so relative URLs stay on the portal;
    everything else goes to storage directly when it can (presigned S3), or is sent from disk."""
    store = core.storage()
    try:
        if mimetype and (mimetype.startswith("application/vnd.apple") or mimetype.startswith("text/")):
            response = Response(store.get_bytes(key), mimetype=mimetype)
            return cached(response, PLAYLIST_MAX_AGE if "mpegurl" in mimetype else 300)
        url = store.presigned_url(key, expires_s=3600)
        if url:
            return redirect(url, code=302)
        path = store.local_path(key)
    except StorageError:
        abort(404)
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=mimetype, conditional=True, max_age=max_age)


def _safe_name(name: str) -> str:
    name = posixpath.normpath(name)
    if name.startswith(("../", "/")) or name in ("..", "."):
        abort(404)
    return name


@bp.get("/v/<slug>/hls/<path:name>")
def hls(slug: str, name: str):
    pub = _publication_or_404(slug)
    name = _safe_name(name)
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


@bp.get("/v/<slug>/storyboard/<path:name>")
def storyboard(slug: str, name: str):
    """The storyboard (a WebVTT of thumbnail `#xywh=` regions) and the sprite images beside it."""
    asset = _publication_or_404(slug).recording.asset("storyboard") or abort(404)
    folder = posixpath.dirname(asset.storage_key)
    name = _safe_name(name)
    mimetype = "text/vtt" if name.endswith(".vtt") else ("image/jpeg" if name.endswith((".jpg", ".jpeg"))
                                                        else "image/webp" if name.endswith(".webp") else "image/png")
    return _serve_key(f"{folder}/{name}", mimetype)

