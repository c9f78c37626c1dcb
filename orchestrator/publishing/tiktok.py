"""TikTok Content Posting API (direct post, FILE_UPLOAD).

`creator_info/query` (allowed privacy levels, longest video) → `video/init` with the chunk plan →
sequential `PUT`s of each chunk with `Content-Range` (206 until the last, then 201) → status polling
until PUBLISH_COMPLETE. The publish id is stored before any byte is sent: a retry first asks its status
and confirms a finished post; an upload cut short is started again with a new init (TikTok has no
way to ask how many bytes arrived, and an unfinished upload never becomes a post).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .base import Adapter, FieldSpec, JobContext, PublishError, RemoteRef, read_chunks

MB = 1024 * 1024
MIN_CHUNK = 5 * MB          # every chunk but a lone one is at least 5 MB...
MAX_CHUNK = 64 * MB         # ...and at most 64 MB,
MAX_FINAL_CHUNK = 128 * MB  # except the last, which takes the trailing bytes (up to 128 MB)
MAX_CHUNKS = 1000
PRIVACY = {"public": "PUBLIC_TO_EVERYONE", "unlisted": "MUTUAL_FOLLOW_FRIENDS", "private": "SELF_ONLY"}
DONE_STATES = {"PUBLISH_COMPLETE"}
UPLOADED_STATES = {"PROCESSING_DOWNLOAD", "SEND_TO_USER_INBOX", "PUBLISH_COMPLETE"}


def plan_chunks(size: int, preferred: int = 10 * MB) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) following TikTok's rules; total = floor(size / chunk_size)."""
    if size <= 0:
        raise PublishError("rejected_file", "empty file")
    if size < MIN_CHUNK:
        return size, 1
    chunk = min(max(preferred, MIN_CHUNK), MAX_CHUNK)
    if size // chunk > MAX_CHUNKS:
        chunk = -(-size // MAX_CHUNKS)
        if chunk > MAX_CHUNK:
            raise PublishError("rejected_file", "file too large for TikTok")
    count = max(1, size // chunk)
    if size - (count - 1) * chunk > MAX_FINAL_CHUNK:
        raise PublishError("rejected_file", "file too large for TikTok")
    return chunk, count


def chunk_ranges(size: int, chunk: int, count: int) -> list[tuple[int, int]]:
    """(first, last) byte of each chunk; the last one absorbs the remainder."""
    return [(i * chunk, (size - 1) if i == count - 1 else (i + 1) * chunk - 1) for i in range(count)]


class TikTokAdapter(Adapter):
    kind = "tiktok"
    label = "TikTok"
    prefers_vertical = True
    settings_fields = (
        FieldSpec("privacy", "Privacy", choices=("public", "unlisted", "private")),
        FieldSpec("chunk_mb", "Upload chunk (MB, 5–64)"),
        FieldSpec("api_base", "API address (leave empty)", url=True),
    )
    credential_fields = (
        FieldSpec("client_key", "Client key", secret=True, required=True),
        FieldSpec("client_secret", "Client secret", secret=True, required=True),
        FieldSpec("refresh_token", "Refresh token", secret=True, required=True),
    )

    @property
    def base(self) -> str:
        return (self.settings.get("api_base") or "https://open.tiktokapis.com").rstrip("/")

    # --- OAuth -------------------------------------------------------------------------------------

    def _token(self, force: bool = False) -> str:
        c = self.credentials
        token = None if force else self._fresh_access_token(timedelta(minutes=2))
        if token:
            return token
        if not (c.get("client_key") and c.get("client_secret") and c.get("refresh_token")):
            raise PublishError("config", "client_key, client_secret and refresh_token are needed")
        resp = self._http_call("POST", f"{self.base}/v2/oauth/token/", data={
            "client_key": c["client_key"], "client_secret": c["client_secret"],
            "grant_type": "refresh_token", "refresh_token": c["refresh_token"]})
        data = _json(resp)
        if resp.status_code != 200 or "access_token" not in data:
            raise PublishError("expired_token", f"token refresh: {data.get('error')} {data.get('error_description')}")
        refresh_expires = (datetime.now(UTC) + timedelta(seconds=int(data["refresh_expires_in"]))
                           if data.get("refresh_expires_in") else None)
        return self._remember_access_token(data, 86400, refresh_expires)

    def _api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in (0, 1):
            resp = self._http_call("POST", f"{self.base}{path}", json=body, headers={
                "Authorization": f"Bearer {self._token(force=attempt == 1)}",
                "Content-Type": "application/json; charset=UTF-8"})
            data = _json(resp)
            error = data.get("error") or {}
            if error.get("code") == "access_token_invalid" and attempt == 0:
                continue  # refresh once, then give up
            if resp.status_code >= 400 or error.get("code", "ok") != "ok":
                raise _map_error(resp.status_code, error)
            return data.get("data") or {}
        raise PublishError("expired_token", "access token refused after refresh")

    # --- interface ---------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        info = self._api("/v2/post/publish/creator_info/query/", {})
        return {"username": info.get("creator_username"), "privacy": info.get("privacy_level_options")}

    def publish(self, ctx: JobContext) -> RemoteRef:
        if ctx.video is None:
            raise PublishError("no_rendition", "no video file")
        if ctx.state.get("publish_id"):
            ref = self.status(ctx)
            if ref is not None and ref.status == "published":
                return ref
            if ctx.state.get("uploaded") or (ref is not None and ref.status == "processing"):
                return self._poll(lambda: self.status(ctx), "TikTok processing")
            # Cut short mid-upload: that publish id can never become a post; start a clean one.
        info = self._api("/v2/post/publish/creator_info/query/", {})
        privacy = PRIVACY.get(ctx.privacy or self.settings.get("privacy") or "public", "SELF_ONLY")
        options = info.get("privacy_level_options") or []
        if privacy not in options:
            raise PublishError("config", f"privacy {privacy} not allowed for this account ({', '.join(options)})")
        longest = info.get("max_video_post_duration_sec")
        if longest and ctx.video.duration_s and ctx.video.duration_s > float(longest):
            raise PublishError("rejected_file", f"video longer than {longest} s")
        size = ctx.video.size
        chunk, count = plan_chunks(size, int(float(self.settings.get("chunk_mb") or 10) * MB))
        data = self._api("/v2/post/publish/video/init/", {
            "post_info": {"title": (ctx.title + ("\n" + ctx.description if ctx.description else ""))[:2200],
                          "privacy_level": privacy, "disable_comment": False, "disable_duet": False,
                          "disable_stitch": False},
            "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
                            "total_chunk_count": count},
        })
        ctx.remember(publish_id=data["publish_id"], uploaded=False, username=info.get("creator_username"))
        for index, (first, last) in enumerate(chunk_ranges(size, chunk, count)):
            resp = self._http_call("PUT", data["upload_url"], timeout=300,
                                   data=read_chunks(ctx.video.path, first, last - first + 1), headers={
                                       "Content-Type": ctx.video.mimetype,
                                       "Content-Range": f"bytes {first}-{last}/{size}"})
            expected = 201 if index == count - 1 else 206
            if resp.status_code not in (expected, 201, 206):
                raise _map_error(resp.status_code, _json(resp).get("error") or {"message": resp.text[:300]})
            ctx.progress(90 * (index + 1) / count)
        ctx.remember(uploaded=True)
        return self._poll(lambda: self.status(ctx), "TikTok processing")

    def status(self, ctx: JobContext) -> RemoteRef | None:
        publish_id = ctx.state.get("publish_id")
        if not publish_id:
            return None
        data = self._api("/v2/post/publish/status/fetch/", {"publish_id": publish_id})
        state = data.get("status")
        if state == "FAILED":
            raise PublishError("rejected_file", data.get("fail_reason") or "failed")
        post_ids = data.get("publicaly_available_post_id") or data.get("publicly_available_post_id") or []
        url = None
        if post_ids and ctx.state.get("username"):
            url = f"https://www.tiktok.com/@{ctx.state['username']}/video/{post_ids[0]}"
        external = str(post_ids[0]) if post_ids else publish_id
        if state in DONE_STATES:
            return RemoteRef(external, url, "published")
        if state in UPLOADED_STATES:
            return RemoteRef(external, url, "processing")
        return RemoteRef(publish_id, None, "uploading")

    def unpublish(self, ctx: JobContext) -> None:
        raise PublishError("unsupported", "TikTok's API cannot delete posts: remove it in the TikTok app")


def _json(resp) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _map_error(status: int, error: dict[str, Any]) -> PublishError:
    code = str(error.get("code") or status)
    detail = f"{code}: {error.get('message', '')}".strip()
    if code in ("access_token_invalid", "scope_not_authorized") or status == 401:
        return PublishError("expired_token" if code == "access_token_invalid" or status == 401 else "auth", detail)
    if code in ("rate_limit_exceeded", "spam_risk_too_many_posts", "spam_risk_too_many_pending_share") \
            or status == 429:
        return PublishError("quota", detail)
    if code.endswith("_check_failed") or code in ("invalid_file_upload", "video_pull_failed"):
        return PublishError("rejected_file", detail)
    if status >= 500:
        return PublishError("remote", detail, retryable=True)
    return PublishError("remote", detail)
