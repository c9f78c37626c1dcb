"""Security headers on every answer: a Content-Security-Policy with a per-request nonce for the few
inline scripts (`csp_nonce()` in templates), framing refused except for the public embed player,
nosniff, a referrer policy, and HSTS when the public address is https.

Scripts, styles and media come from this origin; media and images also from the storage's public
host (S3 presigned URLs, DIEMCAU_MEDIA_BASE_URL) and blob: (hls.js feeds Media Source Extensions
through blob: URLs and runs its worker from one); fetches also go to the media server (WHIP/WHEP)
and, on a join page, to the site's own media node."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from orchestrator import core

EMBED_ENDPOINTS = frozenset({"portal.embed"})
# rq-dashboard renders its rows with underscore templates, which compile with `new Function`.
EVAL_PREFIXES = ("/admin/rq/",)
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def origin(url: str | None) -> str | None:
    """scheme://host[:port] of a URL, or None when it has none."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def allow_connect(url: str | None) -> None:
    """Let this page's scripts also fetch from `url`'s origin (e.g. a site's own media node)."""
    found = origin(url)
    if found:
        g.setdefault("csp_connect", set()).add(found)


def embed_ancestors() -> str:
    """Who may frame the embed player: DIEMCAU_EMBED_ANCESTORS (space-separated origins), default anyone."""
    return core.options().embed_ancestors


def _media_origins() -> list[str]:
    from orchestrator.publishing.portal import media_base_url

    found = [origin(media_base_url()), core.storage().public_origin()]
    return [o for o in found if o]


def content_security_policy(embed: bool) -> str:
    media = " ".join(_media_origins())
    connect = {"'self'", origin(core.settings().media_server_url) or "", *_media_origins(),
               *g.get("csp_connect", ())}
    script = f"'self' 'nonce-{csp_nonce()}'"
    if request.path.startswith(EVAL_PREFIXES):
        script += " 'unsafe-eval'"
    directives = {
        "default-src": "'self'",
        "script-src": script,
        # Inline style attributes are common in the templates; styles cannot run code.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob: {media}",
        "media-src": f"'self' blob: {media}",
        "connect-src": " ".join(sorted(c for c in connect if c)),
        "worker-src": "'self' blob:",
        "font-src": "'self' data:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": embed_ancestors() if embed else "'none'",
    }
    return "; ".join(f"{name} {value.strip()}" for name, value in directives.items())


def add_headers(response: Response) -> Response:
    headers = response.headers
    embed = request.endpoint in EMBED_ENDPOINTS
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if not embed:
        headers.setdefault("X-Frame-Options", "DENY")
    # Pages only: on a PDF or a video opened directly, a page's policy would stop the browser's own viewer.
    if response.mimetype == "text/html":
        try:
            headers["Content-Security-Policy"] = content_security_policy(embed)
        except Exception:  # noqa: BLE001 - an error page must go out even when storage settings are broken
            headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    if core.settings().public_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
