"""Facebook Page through the Graph API.

16:9 videos: the Resumable Upload API (`POST /{app-id}/uploads` opens a session, `POST /upload:<id>`
with a `file_offset` header sends bytes, `GET /upload:<id>` says the offset to resume from, the answer
is a file handle), then `POST /{page-id}/videos` with that handle. 9:16 cuts go out as Reels
(`/{page-id}/video_reels` start → rupload with `offset` → finish with video_state=PUBLISHED).
Each remote step is recorded before the next; the one step that creates a post without a key
(`/videos`) is confirmed on retry by listing the page's recent videos.
"""
from __future__ import annotations

import time
from typing import Any

from .base import Adapter, FieldSpec, JobContext, PublishError, RemoteRef


class FacebookAdapter(Adapter):
    kind = "facebook"
    label = "Facebook"
    settings_fields = (
        FieldSpec("page_id", "Page id", required=True),
        FieldSpec("app_id", "App id", required=True),
        FieldSpec("api_version", "Graph API version", help="v21.0"),
        FieldSpec("graph_base", "Graph API address (leave empty)", url=True),
        FieldSpec("video_base", "Graph video address (leave empty)", url=True),
    )
    credential_fields = (
        FieldSpec("user_access_token", "User access token (uploads)", secret=True, required=True),
        FieldSpec("page_access_token", "Page access token", secret=True, required=True),
    )

    # --- plumbing ----------------------------------------------------------------------------------

    def _url(self, path: str, video: bool = False) -> str:
        base = self.settings.get("video_base" if video else "graph_base") or self.settings.get("graph_base") or (
            "https://graph-video.facebook.com" if video else "https://graph.facebook.com")
        return f"{base.rstrip('/')}/{self.settings.get('api_version') or 'v21.0'}/{path.lstrip('/')}"

    def _need(self, *names: str) -> None:
        missing = [n for n in names if not (self.settings.get(n) or self.credentials.get(n))]
        if missing:
            raise PublishError("config", "missing " + ", ".join(missing))

    def _call(self, method: str, url: str, *, token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        if token:
            # In a header, never in the query string: URLs end up in access and debug logs.
            kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"OAuth {token}"}
        resp = self._http_call(method, url, **kwargs)
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code >= 400 or (isinstance(data, dict) and "error" in data):
            raise _map_error(resp.status_code, (data or {}).get("error") or {"message": resp.text[:300]})
        return data

    # --- interface ---------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        self._need("page_id", "page_access_token")
        data = self._call("GET", self._url(self.settings["page_id"]),
                          params={"fields": "id,name"}, token=self.credentials["page_access_token"])
        return {"page": data.get("name")}

    def publish(self, ctx: JobContext) -> RemoteRef:
        if ctx.video is None:
            raise PublishError("no_rendition", "no video file")
        self._need("page_id", "page_access_token")
        if ctx.state.get("reel") or (ctx.video.aspect == "9:16" and not ctx.state.get("file_handle")):
            return self._reel(ctx)
        self._need("app_id", "user_access_token")
        if not ctx.state.get("file_handle"):
            self._upload_file(ctx)
        if not ctx.state.get("video_id"):
            page = self.settings["page_id"]
            if ctx.state.get("publish_started"):
                found = self._find_recent(ctx)
                if found:
                    ctx.remember(video_id=found)
            if not ctx.state.get("video_id"):
                ctx.remember(publish_started=int(time.time()))
                data = self._call("POST", self._url(f"{page}/videos", video=True), data={
                    "access_token": self.credentials["page_access_token"], "title": ctx.title[:255],
                    "description": _with_link(ctx), "fbuploader_video_file_chunk": ctx.state["file_handle"],
                    "published": "true"})
                ctx.remember(video_id=data["id"])
        video_id = ctx.state["video_id"]
        return RemoteRef(video_id, f"https://www.facebook.com/{self.settings['page_id']}/videos/{video_id}")

    def _upload_file(self, ctx: JobContext) -> None:
        token = self.credentials["user_access_token"]
        if not ctx.state.get("upload_session"):
            data = self._call("POST", self._url(f"{self.settings['app_id']}/uploads"), params={
                "file_name": ctx.video.path.name, "file_length": ctx.video.size, "file_type": ctx.video.mimetype},
                token=token)
            ctx.remember(upload_session=data["id"])
        session = ctx.state["upload_session"]
        offset = int(self._call("GET", self._url(session), headers={"Authorization": f"OAuth {token}"})
                     .get("file_offset", 0))
        with open(ctx.video.path, "rb") as fh:
            fh.seek(offset)
            data = self._call("POST", self._url(session), data=fh, timeout=3600, headers={
                "Authorization": f"OAuth {token}", "file_offset": str(offset),
                "Content-Length": str(ctx.video.size - offset)})
        ctx.progress(90)
        ctx.remember(file_handle=data["h"])

    def _find_recent(self, ctx: JobContext) -> str | None:
        """A /videos call whose answer was lost: look for the video it made (same title, since then)."""
        data = self._call("GET", self._url(f"{self.settings['page_id']}/videos"), params={
            "fields": "id,title,created_time", "since": ctx.state["publish_started"] - 60, "limit": 25},
            token=self.credentials["page_access_token"])
        for item in data.get("data") or []:
            if item.get("title") == ctx.title[:255]:
                return item["id"]
        return None

    def _reel(self, ctx: JobContext) -> RemoteRef:
        page, token = self.settings["page_id"], self.credentials["page_access_token"]
        if not ctx.state.get("video_id"):
            data = self._call("POST", self._url(f"{page}/video_reels"),
                              data={"upload_phase": "start", "access_token": token})
            ctx.remember(reel=True, video_id=data["video_id"], upload_url=data["upload_url"])
        video_id = ctx.state["video_id"]
        if not ctx.state.get("uploaded"):
            status = self._call("GET", self._url(video_id), params={"fields": "status"}, token=token)
            offset = int(((status.get("status") or {}).get("uploading_phase") or {}).get("bytes_transferred") or 0)
            if offset < ctx.video.size:
                with open(ctx.video.path, "rb") as fh:
                    fh.seek(offset)
                    self._call("POST", ctx.state["upload_url"], data=fh, timeout=3600, headers={
                        "Authorization": f"OAuth {token}", "offset": str(offset), "file_size": str(ctx.video.size),
                        "Content-Length": str(ctx.video.size - offset)})
            ctx.remember(uploaded=True)
        if not ctx.state.get("finished"):
            # finish is keyed by video_id: sending it again after a lost answer publishes nothing twice.
            self._call("POST", self._url(f"{page}/video_reels"), data={
                "upload_phase": "finish", "video_id": video_id, "video_state": "PUBLISHED",
                "description": _with_link(ctx), "title": ctx.title[:255], "access_token": token})
            ctx.remember(finished=True)
        return RemoteRef(video_id, f"https://www.facebook.com/reel/{video_id}")

    def status(self, ctx: JobContext) -> RemoteRef | None:
        video_id = ctx.state.get("video_id")
        if not video_id:
            return None
        data = self._call("GET", self._url(video_id), params={"fields": "status,permalink_url"},
                          token=self.credentials.get("page_access_token", ""))
        video_status = (data.get("status") or {}).get("video_status")
        if video_status == "error":
            raise PublishError("rejected_file", "Facebook could not process the video")
        url = data.get("permalink_url")
        if url and url.startswith("/"):
            url = "https://www.facebook.com" + url
        return RemoteRef(video_id, url, "processing" if video_status in ("processing", "upload_complete")
                         else "published")

    def unpublish(self, ctx: JobContext) -> None:
        video_id = ctx.state.get("video_id")
        if not video_id:
            return
        try:
            self._call("DELETE", self._url(video_id), token=self.credentials["page_access_token"])
        except PublishError as exc:
            if exc.code != "not_found":
                raise


def _with_link(ctx: JobContext) -> str:
    text = ctx.description or ""
    if ctx.public_url and ctx.public_url not in text:
        text = (text + "\n\n" + ctx.public_url).strip()
    return text


def _map_error(status: int, error: dict[str, Any]) -> PublishError:
    code, sub = error.get("code"), error.get("error_subcode")
    detail = f"{code}/{sub}: {error.get('message', '')}"
    if code == 190 or sub in (458, 460, 463, 467):
        return PublishError("expired_token", detail)
    if code in (4, 17, 32, 613) or status == 429:
        return PublishError("quota", detail)
    if code in (10, 200, 210) or (isinstance(code, int) and 200 <= code < 300):
        return PublishError("auth", detail)
    if code in (351, 352, 353, 356, 381, 382, 389, 6000, 6001):
        return PublishError("rejected_file", detail)
    if code == 100 and status == 404:
        return PublishError("not_found", detail)
    if status >= 500 or code in (1, 2):
        return PublishError("remote", detail, retryable=True)
    return PublishError("remote", detail)
