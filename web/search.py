"""Portal search: the moments of published transcripts, with or without Vietnamese diacritics. No login.

A hit is a cue of a clip's current transcript; it links to the clip page with `#t=<seconds>`, where
the player starts. Clips whose title or description match (the portal's own query) follow the hits.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from orchestrator.search import search

bp = Blueprint("search", __name__)

MAX_QUERY_CHARS = 200


@bp.get("/search")
def results():
    from .portal import _published_query, cached, clip_view

    query = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    moments = []
    for clip in search(query) if query else []:
        view = clip_view(clip.publication)
        view["hits"] = [{"start": hit.start, "text": hit.text, "language": hit.language,
                         "url": url_for("portal.clip", slug=view["slug"]) + f"#t={hit.start:.1f}"}
                        for hit in clip.hits]
        moments.append(view)
    seen = {view["pub"].id for view in moments}
    others = [clip_view(p) for p in _published_query(50, text=query) if p.id not in seen] if query else []
    body = render_template("search/results.html", q=query, moments=moments, others=others)
    return cached(Response(body, mimetype="text/html"))
