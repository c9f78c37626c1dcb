"""Zalo Official Account: video article.

`article/upload_video/preparevideo` (multipart, ≤ 50 MB) gives a token → `upload_video/verify` is polled
until the conversion finishes and names the video id → `article/create` of type video gives another
token → `article/verify` names the article. Zalo answers HTTP 200 even for errors: `error != 0` in the
body is the failure, checked on every call. Access tokens last about a day and are refreshed from the
refresh token, which is single use: the new one is stored at once (encrypted).
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import Adapter, FieldSpec, JobContext, PublishError, RemoteRef

MAX_VIDEO_BYTES = 50 * 1024 * 1024
TOKEN_ERRORS = {-216, -124, -14002, -14014}   # invalid / expired access token
QUOTA_ERRORS = {-32, -229}                    # rate limit, quota of the OA
FILE_ERRORS = {-210, -211, -212, -213}        # unsupported or broken video
VIDEO_OK, VIDEO_LOCKED, VIDEO_PROCESSING, VIDEO_FAILED, VIDEO_DELETED = 1, 2, 3, 4, 5


class ZaloAdapter(Adapter):
    kind = "zalo"
    label = "Zalo OA"
    settings_fields = (
        FieldSpec("app_id", "App id", required=True),
        FieldSpec("api_base", "API address (leave empty)", url=True),
        FieldSpec("oauth_base", "OAuth address (leave empty)", url=True),
    )
    credential_fields = (
        FieldSpec("app_secret", "App secret key", secret=True, required=True),
        FieldSpec("refresh_token", "Refresh token", secret=True, required=True),
    )

    @property
    def api(self) -> str:
        return (self.settings.get("api_base") or "https://openapi.zalo.me").rstrip("/")

    def _token(self, force: bool = False) -> str:
        c = self.credentials
        token = None if force else self._fresh_access_token(timedelta(minutes=5))
        if token:
            return token
        if not (c.get("refresh_token") and c.get("app_secret") and self.settings.get("app_id")):
            raise PublishError("config", "app_id, app_secret and refresh_token are needed")
        oauth = (self.settings.get("oauth_base") or "https://oauth.zaloapp.com").rstrip("/")
        resp = self._http_call("POST", f"{oauth}/v4/oa/access_token", headers={"secret_key": c["app_secret"]},
                               data={"app_id": self.settings["app_id"], "grant_type": "refresh_token",
                                     "refresh_token": c["refresh_token"]})
        data = _json(resp)
        if "access_token" not in data:
            raise PublishError("expired_token", f"token refresh: {data.get('error')} {data.get('error_name', '')}")
        # The new refresh token is the only valid one now, for about three months.
        return self._remember_access_token(data, 90000, datetime.now(UTC) + timedelta(days=90))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = kwargs.pop("headers", {})
        for attempt in (0, 1):
            resp = self._http_call(method, f"{self.api}{path}", headers={
                **headers, "access_token": self._token(force=attempt == 1)}, **kwargs)
            data = _json(resp)
            error = data.get("error", -1 if resp.status_code != 200 else 0)
            if error in TOKEN_ERRORS and attempt == 0:
                continue
            if resp.status_code != 200 or error != 0:
                raise _map_error(error, data.get("message", resp.text[:200]))
            return data.get("data") or {}
        raise PublishError("expired_token", "access token refused after refresh")

    def check(self) -> dict[str, Any]:
        data = self._call("GET", "/v2.0/oa/getoa")
        return {"oa": data.get("name")}

    def publish(self, ctx: JobContext) -> RemoteRef:
        if ctx.video is None:
            raise PublishError("no_rendition", "no video file")
        if ctx.video.size > MAX_VIDEO_BYTES:
            raise PublishError("rejected_file", "Zalo takes videos up to 50 MB: choose a shorter or smaller cut")
        if not ctx.state.get("video_id"):
            self._upload(ctx)
        if not ctx.state.get("article_token"):
            found = self._find_article(ctx) if ctx.state.get("create_started") else None
            if found:
                ctx.remember(article_id=found, article_token="confirmed")
            else:
                ctx.remember(create_started=int(time.time()))
                body = {"type": "video", "title": ctx.title[:150], "description": (ctx.description or ctx.title)[:300],
                        "video_id": ctx.state["video_id"], "status": "show", "comment": "show"}
                if ctx.thumbnail_url:
                    body["avatar"] = ctx.thumbnail_url
                ctx.remember(article_token=self._call("POST", "/v2.0/article/create", json=body)["token"])
        if not ctx.state.get("article_id"):
            def verify() -> RemoteRef | None:
                data = self._call("POST", "/v2.0/article/verify", json={"token": ctx.state["article_token"]})
                return RemoteRef(str(data["id"]), None, "published") if data.get("id") else None
            ctx.remember(article_id=self._poll(verify, "Zalo article").external_id)
        return self.status(ctx)

    def _upload(self, ctx: JobContext) -> None:
        if ctx.state.get("upload_token"):
            try:
                video_id = self._verify_video(ctx)
                ctx.remember(video_id=video_id)
                return
            except PublishError as exc:
                if exc.code not in ("not_found", "remote"):
                    raise
                # The upload token is gone (expired): nothing was posted with it, upload again.
        with open(ctx.video.path, "rb") as fh:
            data = self._call("POST", "/v2.0/article/upload_video/preparevideo", timeout=3600,
                              files={"file": (ctx.video.path.name, fh, ctx.video.mimetype)})
        ctx.remember(upload_token=data["token"])
        ctx.progress(60)
        ctx.remember(video_id=self._verify_video(ctx))

    def _verify_video(self, ctx: JobContext) -> str:
        deadline = time.monotonic() + self.poll_timeout_s
        while True:
            data = self._call("GET", "/v2.0/article/upload_video/verify", headers={"token": ctx.state["upload_token"]})
            status = data.get("status")
            if status == VIDEO_OK and data.get("video_id"):
                return str(data["video_id"])
            if status in (VIDEO_FAILED, VIDEO_LOCKED, VIDEO_DELETED):
                raise PublishError("rejected_file", f"Zalo video status {status}: {data.get('status_message', '')}"
                                   f" (convert error {data.get('convert_error_code')})")
            if time.monotonic() > deadline:
                raise PublishError("processing_timeout", "Zalo video conversion", retryable=True)
            ctx.progress(60 + 0.3 * float(data.get("convert_percent") or 0))
            time.sleep(self.poll_interval_s)

    def _find_article(self, ctx: JobContext) -> str | None:
        """`article/create` whose answer was lost: find the article by its video among the latest ones."""
        data = self._call("GET", "/v2.0/article/getslice", params={"offset": 0, "limit": 20, "type": "video"})
        for item in data.get("medias") or []:
            if item.get("video_id") == ctx.state["video_id"] or item.get("title") == ctx.title[:150]:
                return str(item["id"])
        return None

    def status(self, ctx: JobContext) -> RemoteRef | None:
        article_id = ctx.state.get("article_id")
        if not article_id:
            return None
        data = self._call("GET", "/v2.0/article/getdetail", params={"id": article_id})
        state = "removed" if data.get("status") == "hide" else "published"
        return RemoteRef(article_id, data.get("link"), state)

    def unpublish(self, ctx: JobContext) -> None:
        article_id = ctx.state.get("article_id")
        if not article_id:
            return
        try:
            self._call("POST", "/v2.0/article/remove", json={"id": article_id})
        except PublishError as exc:
            if exc.code != "not_found":
                raise


def _json(resp) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _map_error(error: int, message: str) -> PublishError:
    detail = f"error {error}: {message}"
    if error in TOKEN_ERRORS:
        return PublishError("expired_token", detail)
    if error in QUOTA_ERRORS:
        return PublishError("quota", detail)
    if error in FILE_ERRORS:
        return PublishError("rejected_file", detail)
    if error in (-201, -202) and "not exist" in message.lower():
        return PublishError("not_found", detail)
    return PublishError("remote", detail)
