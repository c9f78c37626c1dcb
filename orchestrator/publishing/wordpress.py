"""An existing WordPress site through its REST API, authenticated with an Application Password.

`POST /wp/v2/media` (the MP4, then the poster) → `POST /wp/v2/posts` with a video block. Both are
confirmed before they are created: media by its deterministic file name, the post by its slug, so a
retry after a lost answer finds what exists instead of adding it again.
"""
from __future__ import annotations

import hashlib
import html
from typing import Any

from ..naming import slugify
from .base import Adapter, FieldSpec, JobContext, PublishError, RemoteRef


class WordPressAdapter(Adapter):
    kind = "wordpress"
    label = "WordPress"
    prefers_loud = False
    settings_fields = (
        FieldSpec("site_url", "Site address", required=True, help="https://example.gov.vn", url=True),
        FieldSpec("category_id", "Category id"),
    )
    credential_fields = (
        FieldSpec("username", "User name", secret=True, required=True),
        FieldSpec("application_password", "Application password", secret=True, required=True),
    )

    def _api(self, path: str) -> str:
        site = (self.settings.get("site_url") or "").rstrip("/")
        if not site:
            raise PublishError("config", "site_url is needed")
        return f"{site}/wp-json/wp/v2/{path.lstrip('/')}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        c = self.credentials
        if not (c.get("username") and c.get("application_password")):
            raise PublishError("config", "username and application_password are needed")
        resp = self._http_call(method, self._api(path), auth=(c["username"], c["application_password"]), **kwargs)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400:
            raise _map_error(resp.status_code, data if isinstance(data, dict) else {})
        return data

    def _name(self, ctx: JobContext, suffix: str) -> str:
        digest = hashlib.sha1((ctx.idempotency_key + suffix).encode()).hexdigest()[:10]
        return f"diemcau-{ctx.recording_id}-{digest}"

    def _media(self, ctx: JobContext, path, mimetype: str, suffix: str) -> dict[str, Any]:
        name = self._name(ctx, suffix)
        for item in self._call("GET", "media", params={"search": name, "per_page": 10, "context": "edit"}):
            if (item.get("source_url") or "").rsplit("/", 1)[-1].startswith(name):
                return item
        with open(path, "rb") as fh:
            return self._call("POST", "media", data=fh, timeout=3600, headers={
                "Content-Type": mimetype, "Content-Disposition": f'attachment; filename="{name}{suffix}"'})

    def check(self) -> dict[str, Any]:
        data = self._call("GET", "users/me", params={"context": "edit"})
        return {"user": data.get("name"), "roles": data.get("roles")}

    def publish(self, ctx: JobContext) -> RemoteRef:
        if ctx.video is None:
            raise PublishError("no_rendition", "no video file")
        if not ctx.state.get("media_id"):
            media = self._media(ctx, ctx.video.path, ctx.video.mimetype, ".mp4")
            ctx.remember(media_id=media["id"], media_url=media.get("source_url"))
        ctx.progress(80)
        if ctx.thumbnail and not ctx.state.get("poster_id"):
            poster = self._media(ctx, ctx.thumbnail, "image/jpeg", ".jpg")
            ctx.remember(poster_id=poster["id"])
        if not ctx.state.get("post_id"):
            slug = f"{slugify(ctx.title, 60)}-{ctx.recording_id}"
            existing = self._call("GET", "posts", params={"slug": slug, "status": "publish,future,draft,private",
                                                          "context": "edit"})
            if existing:
                post = existing[0]
            else:
                body = {"title": ctx.title, "slug": slug, "status": "publish", "content": _content(ctx),
                        "featured_media": ctx.state.get("poster_id") or 0}
                if self.settings.get("category_id"):
                    body["categories"] = [int(self.settings["category_id"])]
                post = self._call("POST", "posts", json=body)
            ctx.remember(post_id=post["id"], link=post.get("link"))
        return RemoteRef(str(ctx.state["post_id"]), ctx.state.get("link"))

    def status(self, ctx: JobContext) -> RemoteRef | None:
        post_id = ctx.state.get("post_id")
        if not post_id:
            return None
        post = self._call("GET", f"posts/{post_id}", params={"context": "edit"})
        return RemoteRef(str(post_id), post.get("link"), "published" if post.get("status") in ("publish", "future")
                         else "removed")

    def unpublish(self, ctx: JobContext) -> None:
        post_id = ctx.state.get("post_id")
        if not post_id:
            return
        try:
            self._call("DELETE", f"posts/{post_id}")  # to the trash: an editor there can bring it back
        except PublishError as exc:
            if exc.code != "not_found":
                raise


def _content(ctx: JobContext) -> str:
    src = html.escape(ctx.state.get("media_url") or "", quote=True)
    parts = [f'<!-- wp:video -->\n<figure class="wp-block-video"><video controls preload="metadata" src="{src}">'
             f'</video></figure>\n<!-- /wp:video -->']
    for para in (ctx.description or "").split("\n\n"):
        if para.strip():
            parts.append(f"<!-- wp:paragraph -->\n<p>{html.escape(para.strip())}</p>\n<!-- /wp:paragraph -->")
    if ctx.public_url:
        url = html.escape(ctx.public_url, quote=True)
        parts.append(f'<!-- wp:paragraph -->\n<p><a href="{url}">{url}</a></p>\n<!-- /wp:paragraph -->')
    return "\n\n".join(parts)


def _map_error(status: int, data: dict[str, Any]) -> PublishError:
    code = data.get("code", "")
    detail = f"HTTP {status} {code}: {data.get('message', '')}"
    if status == 401 or code in ("incorrect_password", "invalid_username", "rest_not_logged_in"):
        return PublishError("expired_token", detail)
    if status == 403:
        return PublishError("auth", detail)
    if status == 404 or code in ("rest_post_invalid_id",):
        return PublishError("not_found", detail)
    if status == 413 or code.startswith("rest_upload") or code == "rest_invalid_param" and "media" in detail:
        return PublishError("rejected_file", detail)
    if status == 429:
        return PublishError("quota", detail)
    if status >= 500:
        return PublishError("remote", detail, retryable=True)
    return PublishError("remote", detail)
