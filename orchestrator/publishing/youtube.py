"""YouTube Data API v3 through google-api-python-client.

Resumable `videos.insert`: the upload session is opened first and its URI stored before any byte is
sent; chunks of a multiple of 256 KiB follow. After a 5xx, a network failure or a crash, the client
asks the session where it stands (`PUT Content-Range: bytes */size` → `308 Resume Incomplete` with
`Range`, or the finished video) and goes on from there, so one publication is one video. Then one
`captions.insert` per subtitle track (skipping languages already there), `thumbnails.set` (idempotent).
OAuth: an access token refreshed from the stored refresh token; the new token is stored encrypted.
"""
from __future__ import annotations

import json
import time
from datetime import UTC
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials as OAuthCredentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError, ResumableUploadError
from googleapiclient.http import HttpRequest, MediaFileUpload, build_http

from .base import Adapter, FieldSpec, JobContext, PublishError, RemoteRef

SCOPES = ["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.force-ssl"]
CHUNK_UNIT = 256 * 1024  # YouTube: every chunk but the last is a multiple of 256 KiB
MAX_CONSECUTIVE_FAILURES = 6


class YouTubeAdapter(Adapter):
    kind = "youtube"
    label = "YouTube"
    settings_fields = (
        FieldSpec("privacy", "Privacy", choices=("public", "unlisted", "private")),
        FieldSpec("category_id", "Category id", help="22 = People & Blogs, 25 = News & Politics"),
        FieldSpec("chunk_kib", "Upload chunk (KiB, multiple of 256)"),
        FieldSpec("api_base", "API address (leave empty)", url=True),
        FieldSpec("token_uri", "OAuth token address (leave empty)", url=True),
    )
    credential_fields = (
        FieldSpec("client_id", "OAuth client id", secret=True, required=True),
        FieldSpec("client_secret", "OAuth client secret", secret=True, required=True),
        FieldSpec("refresh_token", "Refresh token", secret=True, required=True),
    )

    # --- client ------------------------------------------------------------------------------------

    @property
    def api_base(self) -> str | None:
        return (self.settings.get("api_base") or "").rstrip("/") or None

    def _oauth(self) -> OAuthCredentials:
        creds = getattr(self, "_creds", None)
        if creds is None:
            c = self.credentials
            if not (c.get("refresh_token") and c.get("client_id") and c.get("client_secret")):
                raise PublishError("config", "client_id, client_secret and refresh_token are needed")
            creds = self._creds = OAuthCredentials(
                token=c.get("access_token"), refresh_token=c["refresh_token"], client_id=c["client_id"],
                client_secret=c["client_secret"], scopes=SCOPES,
                token_uri=self.settings.get("token_uri") or "https://oauth2.googleapis.com/token")
            if c.get("access_token_expiry"):
                from datetime import datetime
                # google-auth compares naive UTC datetimes
                creds.expiry = datetime.fromisoformat(c["access_token_expiry"]).astimezone(UTC).replace(tzinfo=None)
            self._stored_token = c.get("access_token")
        return creds

    def _service(self):
        service = getattr(self, "_yt", None)
        if service is None:
            # httplib2 does not go through the pinned session: the configured addresses are checked here.
            self.check_destinations()
            # build_http(): httplib2 without 308 as a redirect (for YouTube it means "Resume Incomplete").
            http = AuthorizedHttp(self._oauth(), http=build_http())
            options = {"api_endpoint": self.api_base + "/"} if self.api_base else None
            service = self._yt = build("youtube", "v3", http=http, static_discovery=True, cache_discovery=False,
                                       client_options=options)
        return service

    def _rebase(self, request: HttpRequest) -> HttpRequest:
        # With api_endpoint overridden, googleapiclient swaps only the host of media upload URLs and
        # keeps https: point them at the configured base (a proxy, or the contract tests' fake server).
        if self.api_base and request.uri.startswith("https://"):
            path = request.uri.split("/", 3)[3]
            request.uri = f"{self.api_base}/{path}"
        return request

    def _persist_token(self) -> None:
        creds = getattr(self, "_creds", None)
        if creds is not None and creds.token and creds.token != self._stored_token:
            self._stored_token = creds.token
            expiry = creds.expiry.replace(tzinfo=UTC).isoformat() if creds.expiry else None
            self._save_credentials({"access_token": creds.token, "access_token_expiry": expiry}, None)

    def _execute(self, request: HttpRequest) -> Any:
        try:
            return self._rebase(request).execute(num_retries=2)
        except HttpError as exc:
            raise _map_error(exc) from None
        except RefreshError as exc:
            raise PublishError("expired_token", str(exc)[:300]) from None
        except (httplib2.HttpLib2Error, OSError, TransportError) as exc:
            raise PublishError("network", type(exc).__name__, retryable=True) from None
        finally:
            self._persist_token()

    # --- interface ---------------------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        data = self._execute(self._service().channels().list(part="snippet", mine=True))
        items = data.get("items") or []
        return {"channel_id": items[0]["id"], "title": items[0]["snippet"]["title"]} if items else {}

    def publish(self, ctx: JobContext) -> RemoteRef:
        if ctx.video is None:
            raise PublishError("no_rendition", "no video file")
        if not ctx.state.get("video_id"):
            video_id = self._upload(ctx)
            ctx.remember(video_id=video_id, upload_uri=None)
        video_id = ctx.state["video_id"]
        self._captions(ctx, video_id)
        if ctx.thumbnail and not ctx.state.get("thumbnail_set"):
            media = MediaFileUpload(str(ctx.thumbnail), mimetype="image/jpeg", resumable=False)
            self._execute(self._service().thumbnails().set(videoId=video_id, media_body=media))
            ctx.remember(thumbnail_set=True)
        return RemoteRef(video_id, f"https://www.youtube.com/watch?v={video_id}")

    def _body(self, ctx: JobContext) -> dict[str, Any]:
        privacy = ctx.privacy or self.settings.get("privacy") or "public"
        snippet = {"title": ctx.title[:100], "description": ctx.description[:5000],
                   "categoryId": str(self.settings.get("category_id") or "25"),
                   "defaultLanguage": "vi", "defaultAudioLanguage": "vi"}
        return {"snippet": snippet, "status": {"privacyStatus": privacy, "selfDeclaredMadeForKids": False}}

    def _upload(self, ctx: JobContext) -> str:
        chunk = int(self.settings.get("chunk_kib") or 8 * 256) * 1024
        chunk = max(CHUNK_UNIT, chunk // CHUNK_UNIT * CHUNK_UNIT)
        media = MediaFileUpload(str(ctx.video.path), mimetype=ctx.video.mimetype, chunksize=chunk, resumable=True)
        request = self._rebase(self._service().videos().insert(part="snippet,status", body=self._body(ctx),
                                                               media_body=media, notifySubscribers=True))
        if ctx.state.get("upload_uri"):
            # A previous attempt opened the session: ask it how far it got before sending anything.
            request.resumable_uri = ctx.state["upload_uri"]
            request._in_error_state = True  # googleapiclient then starts with the `bytes */size` status query
        else:
            ctx.remember(upload_uri=self._open_session(request, ctx))
            request.resumable_uri = ctx.state["upload_uri"]
        failures = 0
        while True:
            try:
                status, response = request.next_chunk(num_retries=0)
            except HttpError as exc:
                code = exc.resp.status
                if code in (404, 410) and not ctx.state.get("session_restarted"):
                    # The session expired unfinished (a finished one answers with the video): start over once.
                    ctx.remember(upload_uri=None, session_restarted=True)
                    return self._upload(ctx)
                if code < 500 and code != 429:
                    raise _map_error(exc) from None
                failures = self._backoff(failures, f"HTTP {code}")
                continue
            except RefreshError as exc:
                raise PublishError("expired_token", str(exc)[:300]) from None
            except (httplib2.HttpLib2Error, OSError, TransportError) as exc:
                failures = self._backoff(failures, type(exc).__name__)
                continue
            finally:
                self._persist_token()
            failures = 0
            if response is not None:
                return response["id"]
            if status is not None:
                ctx.progress(status.progress() * 95)

    def _open_session(self, request: HttpRequest, ctx: JobContext) -> str:
        headers = dict(request.headers)
        headers.update({"X-Upload-Content-Type": ctx.video.mimetype,
                        "X-Upload-Content-Length": str(ctx.video.size), "content-length": str(request.body_size)})
        try:
            resp, content = request.http.request(request.uri, method="POST", body=request.body, headers=headers)
        except RefreshError as exc:
            raise PublishError("expired_token", str(exc)[:300]) from None
        except (httplib2.HttpLib2Error, OSError, TransportError) as exc:
            raise PublishError("network", type(exc).__name__, retryable=True) from None
        finally:
            self._persist_token()
        if resp.status == 200 and "location" in resp:
            return resp["location"]
        raise _map_error(ResumableUploadError(resp, content))

    def _backoff(self, failures: int, what: str) -> int:
        failures += 1
        if failures >= MAX_CONSECUTIVE_FAILURES:
            raise PublishError("network", f"upload interrupted {failures} times ({what})", retryable=True)
        time.sleep(min(60.0, self.retry_backoff_s * 2 ** (failures - 1)))
        return failures

    def _captions(self, ctx: JobContext, video_id: str) -> None:
        done: dict[str, str] = dict(ctx.state.get("captions") or {})
        missing = [(lang, path) for lang, path in ctx.subtitles if lang not in done]
        if not missing:
            return
        # Confirm first: a crash after captions.insert but before we recorded it must not add a twin track.
        existing = self._execute(self._service().captions().list(part="snippet", videoId=video_id))
        for item in existing.get("items") or []:
            done.setdefault(item["snippet"]["language"], item["id"])
        for lang, path in missing:
            if lang in done:
                continue
            body = {"snippet": {"videoId": video_id, "language": lang, "isDraft": False,
                                "name": {"vi": "Tiếng Việt", "en": "English"}.get(lang, lang)}}
            media = MediaFileUpload(str(path), mimetype="text/vtt", resumable=False)
            item = self._execute(self._service().captions().insert(part="snippet", body=body, media_body=media))
            done[lang] = item["id"]
            ctx.remember(captions=done)
        ctx.remember(captions=done)

    def status(self, ctx: JobContext) -> RemoteRef | None:
        video_id = ctx.state.get("video_id")
        if not video_id:
            return None
        data = self._execute(self._service().videos().list(part="status,processingDetails", id=video_id))
        items = data.get("items") or []
        if not items:
            return RemoteRef(video_id, None, "removed")
        upload = items[0].get("status", {}).get("uploadStatus")
        if upload in ("rejected", "failed"):
            reason = items[0]["status"].get("rejectionReason") or items[0]["status"].get("failureReason") or upload
            raise PublishError("rejected_file", reason)
        state = "published" if upload in ("processed", "uploaded", None) else "processing"
        return RemoteRef(video_id, f"https://www.youtube.com/watch?v={video_id}", state)

    def unpublish(self, ctx: JobContext) -> None:
        video_id = ctx.state.get("video_id")
        if not video_id:
            return
        try:
            self._execute(self._service().videos().delete(id=video_id))
        except PublishError as exc:
            if exc.code != "not_found":
                raise


def _map_error(exc: HttpError) -> PublishError:
    code = exc.resp.status
    reason = ""
    try:
        error = json.loads(exc.content or b"{}").get("error", {})
        reason = (error.get("errors") or [{}])[0].get("reason", "") or error.get("status", "")
        message = error.get("message", "")
    except (ValueError, AttributeError):
        message = (exc.content or b"")[:300].decode(errors="replace")
    detail = f"HTTP {code} {reason} {message}".strip()
    if reason in ("quotaExceeded", "uploadLimitExceeded", "rateLimitExceeded", "dailyLimitExceeded"):
        return PublishError("quota", detail)
    if code == 401:
        return PublishError("expired_token", detail)
    if code == 403:
        return PublishError("auth", detail)
    if code == 404:
        return PublishError("not_found", detail)
    if code in (400, 413, 415) and reason in ("invalidVideoMetadata", "mediaBodyRequired", "invalidFilename",
                                              "badContent", "invalidTitle", "invalidDescription", ""):
        return PublishError("rejected_file", detail)
    if code >= 500 or code == 429:
        return PublishError("remote", detail, retryable=True)
    return PublishError("remote", detail)
