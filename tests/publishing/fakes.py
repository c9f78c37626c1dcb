"""Local fake servers (loopback, one thread each) for the publishing contract tests.

Each implements the documented protocol of its platform closely enough that an adapter mistake fails:
wrong offsets, chunk sizes that break the rules, a missing header, a request without a valid token.
Faults (503 mid-upload, quota, errors inside HTTP 200 bodies, slow chunks) are switched on per test.
"""
from __future__ import annotations

import email
import json
import re
import threading
import uuid
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

KIB = 1024
MB = 1024 * 1024


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype="application/json")


class _Handler(WSGIRequestHandler):
    """Keeps headers with underscores (werkzeug drops them, as nginx does by default), because Facebook's
    upload protocol uses `file_offset` and `file_size`."""

    def make_environ(self):
        environ = super().make_environ()
        for key, value in self.headers.items():
            if "_" in key:
                environ["fake.header." + key.lower()] = value
        return environ


def raw_header(request: Request, name: str) -> str:
    return request.environ.get("fake.header." + name, "")


class FakeServer:
    """A werkzeug server on 127.0.0.1:<free port>; subclasses implement `handle(request)`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.log: list[tuple[str, str]] = []
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.log.append((request.method, request.path))
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def calls(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.log if m == method and re.search(pattern, p))


# --- YouTube Data API v3 + Google OAuth ----------------------------------------------------------

class FakeYouTube(FakeServer):
    REFRESH_TOKEN = "yt-refresh-1"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.captions: dict[str, dict[str, Any]] = {}
        self.thumbnails: dict[str, bytes] = {}
        self.put_count = 0
        self.fail_puts: set[int] = set()     # these PUT numbers keep half the chunk, then answer 503
        self.put_delay_s = 0.0
        self.quota_exceeded = False
        self.bytes_received = 0               # over all PUTs, to see that a resume did not start over
        self.status_queries = 0

    def handle(self, request: Request) -> Response:
        if request.path == "/token":
            return self._token(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _json({"error": {"code": 401, "message": "Invalid Credentials",
                                    "errors": [{"reason": "authError"}]}}, 401)
        path, args = request.path, request.args
        if path == "/upload/youtube/v3/videos" and request.method == "POST":
            return self._open(request)
        if path == "/upload/youtube/v3/videos" and request.method == "PUT":
            return self._put(request)
        if path == "/upload/youtube/v3/captions" and request.method == "POST":
            return self._caption(request)
        if path == "/upload/youtube/v3/thumbnails/set" and request.method == "POST":
            if args.get("videoId") not in self.videos:
                return _json({"error": {"code": 404, "errors": [{"reason": "videoNotFound"}]}}, 404)
            if request.content_type not in ("image/jpeg", "image/png"):
                return _json({"error": {"code": 400, "errors": [{"reason": "mediaBodyRequired"}]}}, 400)
            self.thumbnails[args["videoId"]] = request.get_data()
            return _json({"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": "x"}}]})
        if path == "/youtube/v3/captions" and request.method == "GET":
            items = [c for c in self.captions.values() if c["snippet"]["videoId"] == args.get("videoId")]
            return _json({"items": items})
        if path == "/youtube/v3/videos" and request.method == "GET":
            items = [self.videos[i] for i in args.get("id", "").split(",") if i in self.videos]
            return _json({"items": items})
        if path == "/youtube/v3/videos" and request.method == "DELETE":
            if self.videos.pop(args.get("id"), None) is None:
                return _json({"error": {"code": 404, "errors": [{"reason": "videoNotFound"}]}}, 404)
            return Response(status=204)
        if path == "/youtube/v3/channels":
            return _json({"items": [{"id": "UC-fake", "snippet": {"title": "Ban Tuyên giáo"}}]})
        return _json({"error": {"code": 404, "message": "no such method"}}, 404)

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.REFRESH_TOKEN \
                or not form.get("client_id") or not form.get("client_secret"):
            return _json({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400)
        token = f"ya29.{uuid.uuid4().hex}"
        self.tokens.add(token)
        return _json({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _open(self, request: Request) -> Response:
        if request.args.get("uploadType") != "resumable" or "snippet" not in request.args.get("part", ""):
            return _json({"error": {"code": 400, "message": "uploadType=resumable and part=snippet needed"}}, 400)
        if self.quota_exceeded:
            return _json({"error": {"code": 403, "message": "quota", "errors": [{"reason": "quotaExceeded"}]}}, 403)
        body = request.get_json(silent=True) or {}
        title = (body.get("snippet") or {}).get("title", "")
        length = request.headers.get("X-Upload-Content-Length", "")
        if not title or len(title) > 100 or not length.isdigit() \
                or not request.headers.get("X-Upload-Content-Type", "").startswith("video/"):
            return _json({"error": {"code": 400, "errors": [{"reason": "invalidVideoMetadata"}]}}, 400)
        upload_id = uuid.uuid4().hex
        with self.lock:
            self.sessions[upload_id] = {"size": int(length), "data": bytearray(), "resource": body, "video": None}
        location = f"{self.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        return Response(status=200, headers={"Location": location})

    def _put(self, request: Request) -> Response:
        import time

        session = self.sessions.get(request.args.get("upload_id", ""))
        if session is None:
            return _json({"error": {"code": 404, "message": "upload session not found"}}, 404)
        crange = request.headers.get("Content-Range", "")
        m_query = re.fullmatch(r"bytes \*/(\d+)", crange)
        m_chunk = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", crange)
        with self.lock:
            received = len(session["data"])
            if m_query:  # status query of an interrupted upload
                self.status_queries += 1
                if session["video"]:
                    return _json(self.videos.get(session["video"], {}), 200)
                return self._incomplete(received)
            if not m_chunk or int(m_chunk.group(3)) != session["size"]:
                return _json({"error": {"code": 400, "message": f"bad Content-Range {crange!r}"}}, 400)
            first, last = int(m_chunk.group(1)), int(m_chunk.group(2))
            data = request.get_data()
            if len(data) != last - first + 1:
                return _json({"error": {"code": 400, "message": "body length does not match Content-Range"}}, 400)
            if first != received:
                return _json({"error": {"code": 400, "message": f"offset {first}, server has {received}"}}, 400)
            if last + 1 < session["size"] and len(data) % (256 * KIB):
                return _json({"error": {"code": 400, "message": "chunk not a multiple of 256 KiB"}}, 400)
            self.put_count += 1
            number = self.put_count
        if self.put_delay_s:
            time.sleep(self.put_delay_s)
        with self.lock:
            if number in self.fail_puts:
                keep = data[: len(data) // 2]  # the server persisted part of the chunk before failing
                session["data"] += keep
                self.bytes_received += len(keep)
                return _json({"error": {"code": 503, "message": "backend error"}}, 503)
            session["data"] += data
            self.bytes_received += len(data)
            if len(session["data"]) < session["size"]:
                return self._incomplete(len(session["data"]))
            video_id = f"vid{len(self.videos) + 1:03d}"
            resource = session["resource"]
            self.videos[video_id] = {"kind": "youtube#video", "id": video_id, "snippet": resource["snippet"],
                                     "status": {**resource.get("status", {}), "uploadStatus": "uploaded"},
                                     "size": session["size"]}
            session["video"] = video_id
            return _json(self.videos[video_id], 201)

    @staticmethod
    def _incomplete(received: int) -> Response:
        headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
        return Response(status=308, headers=headers)

    def _caption(self, request: Request) -> Response:
        ctype = request.headers.get("Content-Type", "")
        if request.args.get("uploadType") != "multipart" or not ctype.startswith("multipart/related"):
            return _json({"error": {"code": 400, "message": "multipart/related upload expected"}}, 400)
        message = email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + request.get_data())
        parts = list(message.walk())[1:]
        meta = json.loads(parts[0].get_payload(decode=True))
        media = parts[1].get_payload(decode=True)
        snippet = meta.get("snippet", {})
        if snippet.get("videoId") not in self.videos:
            return _json({"error": {"code": 404, "errors": [{"reason": "videoNotFound"}]}}, 404)
        if not snippet.get("language") or not snippet.get("name") or not media.startswith(b"WEBVTT"):
            return _json({"error": {"code": 400, "errors": [{"reason": "invalidMetadata"}]}}, 400)
        cid = f"cap{len(self.captions) + 1}"
        self.captions[cid] = {"id": cid, "snippet": snippet, "body": media.decode()}
        return _json(self.captions[cid])


# --- TikTok Content Posting API ------------------------------------------------------------------

class FakeTikTok(FakeServer):
    REFRESH_TOKEN = "tt-refresh-1"

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.uploads: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self.privacy_options = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        self.processing_polls = 1   # status fetches that still say PROCESSING_DOWNLOAD
        self.spam_limit = False

    def _error(self, code: str, message: str, status: int) -> Response:
        return _json({"data": {}, "error": {"code": code, "message": message, "log_id": uuid.uuid4().hex}}, status)

    def handle(self, request: Request) -> Response:
        if request.path == "/v2/oauth/token/":
            form = request.form
            if form.get("refresh_token") != self.REFRESH_TOKEN or not form.get("client_key"):
                return _json({"error": "invalid_grant", "error_description": "refresh token invalid"}, 400)
            token = f"act.{uuid.uuid4().hex}"
            self.tokens.add(token)
            return _json({"access_token": token, "expires_in": 86400, "refresh_token": self.REFRESH_TOKEN,
                          "refresh_expires_in": 31536000, "open_id": "u1", "scope": "video.publish"})
        if request.path.startswith("/upload/"):
            return self._put(request, request.path.rsplit("/", 1)[1])
        auth = request.headers.get("Authorization", "")
        if auth[7:] not in self.tokens:
            return self._error("access_token_invalid", "The access token is invalid or not found", 401)
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            return self._error("invalid_params", "Content-Type must be application/json", 400)
        body = request.get_json(silent=True) or {}
        if request.path == "/v2/post/publish/creator_info/query/":
            return _json({"data": {"creator_username": "bantuyengiao", "creator_nickname": "Ban Tuyên giáo",
                                   "privacy_level_options": self.privacy_options,
                                   "max_video_post_duration_sec": 600}, "error": {"code": "ok"}})
        if request.path == "/v2/post/publish/video/init/":
            return self._init(body)
        if request.path == "/v2/post/publish/status/fetch/":
            upload = self.uploads.get(body.get("publish_id", ""))
            if upload is None:
                return self._error("invalid_params", "publish_id not found", 400)
            data: dict[str, Any] = {"status": upload["status"], "uploaded_bytes": len(upload["data"])}
            if upload["status"] == "PROCESSING_DOWNLOAD":
                upload["polls"] += 1
                if upload["polls"] > self.processing_polls:
                    upload["status"] = "PUBLISH_COMPLETE"
                    self.posts.append({"publish_id": body["publish_id"], "size": len(upload["data"]),
                                       "title": upload["title"]})
                    upload["post_id"] = str(7300000000000000000 + len(self.posts))
                data["status"] = upload["status"]
            if upload.get("post_id"):
                data["publicaly_available_post_id"] = [upload["post_id"]]
            return _json({"data": data, "error": {"code": "ok"}})
        return self._error("invalid_params", "unknown endpoint", 404)

    def _init(self, body: dict[str, Any]) -> Response:
        if self.spam_limit:
            return self._error("spam_risk_too_many_posts", "daily post cap reached", 403)
        post, source = body.get("post_info") or {}, body.get("source_info") or {}
        if post.get("privacy_level") not in self.privacy_options:
            return self._error("privacy_level_option_mismatch", "privacy_level not in creator options", 400)
        if source.get("source") != "FILE_UPLOAD":
            return self._error("invalid_params", "source must be FILE_UPLOAD", 400)
        size, chunk, count = source.get("video_size"), source.get("chunk_size"), source.get("total_chunk_count")
        if not all(isinstance(v, int) and v > 0 for v in (size, chunk, count)):
            return self._error("invalid_params", "video_size, chunk_size, total_chunk_count required", 400)
        if size < 5 * MB:
            if chunk != size or count != 1:
                return self._error("invalid_params", "videos under 5 MB are uploaded whole", 400)
        else:
            if not 5 * MB <= chunk <= 64 * MB:
                return self._error("invalid_params", "chunk_size must be 5–64 MB", 400)
            if count != size // chunk or count > 1000:
                return self._error("invalid_params", "total_chunk_count must be floor(video_size/chunk_size)", 400)
            if size - (count - 1) * chunk > 128 * MB:
                return self._error("invalid_params", "final chunk larger than 128 MB", 400)
        publish_id = f"v_pub_file~v2-1.{uuid.uuid4().hex[:12]}"
        self.uploads[publish_id] = {"size": size, "chunk": chunk, "count": count, "data": bytearray(),
                                    "status": "PROCESSING_UPLOAD", "polls": 0, "title": post.get("title", "")}
        return _json({"data": {"publish_id": publish_id, "upload_url": f"{self.url}/upload/{publish_id}"},
                      "error": {"code": "ok"}})

    def _put(self, request: Request, publish_id: str) -> Response:
        upload = self.uploads.get(publish_id)
        if upload is None or upload["status"] != "PROCESSING_UPLOAD":
            return self._error("invalid_params", "upload url not valid", 404)
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", request.headers.get("Content-Range", ""))
        if not m or request.headers.get("Content-Type") not in ("video/mp4", "video/quicktime", "video/webm"):
            return self._error("invalid_params", "Content-Range and Content-Type video/* required", 400)
        first, last, total = map(int, m.groups())
        data = request.get_data()
        index = len(upload["data"]) // upload["chunk"] if upload["count"] > 1 else 0
        want_first = index * upload["chunk"]
        want_last = upload["size"] - 1 if index == upload["count"] - 1 else want_first + upload["chunk"] - 1
        if total != upload["size"] or (first, last) != (want_first, want_last) or len(data) != last - first + 1:
            # Chunks go in order and follow the plan sent to video/init.
            return self._error("invalid_params", f"expected bytes {want_first}-{want_last}/{upload['size']}", 400)
        upload["data"] += data
        if len(upload["data"]) < upload["size"]:
            return Response(status=206)
        upload["status"] = "PROCESSING_DOWNLOAD"
        return Response(status=201)


# --- Facebook Graph API: Resumable Upload API, Page videos, Reels --------------------------------

class FakeFacebook(FakeServer):
    USER_TOKEN, PAGE_TOKEN, APP_ID, PAGE_ID = "EAAuser", "EAApage", "1234567890", "987654321"

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.reels: dict[str, dict[str, Any]] = {}
        self.keep_fraction: float | None = None   # next file POST: keep this part, then fail (cut connection)
        self.lose_publish_answer = False          # next /videos: create the video, then answer 500
        self.token_expired = False
        self.offsets_sent: list[int] = []

    def _error(self, code: int, message: str, status: int = 400, sub: int | None = None) -> Response:
        error = {"message": message, "type": "OAuthException" if code == 190 else "GraphMethodException",
                 "code": code, "fbtrace_id": uuid.uuid4().hex[:10]}
        if sub:
            error["error_subcode"] = sub
        return _json({"error": error}, status)

    def _token(self, request: Request) -> str:
        auth = request.headers.get("Authorization", "")
        return auth[6:] if auth.startswith("OAuth ") else (request.values.get("access_token") or "")

    def handle(self, request: Request) -> Response:
        path = request.path.lstrip("/").removeprefix("v21.0/")
        token = self._token(request)
        if self.token_expired:
            return self._error(190, "Error validating access token: Session has expired", 400, 463)
        if token not in (self.USER_TOKEN, self.PAGE_TOKEN):
            return self._error(190, "Invalid OAuth access token.", 400)
        with self.lock:
            if path == f"{self.APP_ID}/uploads" and request.method == "POST":
                length = request.args.get("file_length", "")
                if token != self.USER_TOKEN or not length.isdigit() or request.args.get("file_type") != "video/mp4":
                    return self._error(100, "file_length, file_type and a user token are required")
                sid = f"upload:MTphdHRhY2htZW50{uuid.uuid4().hex[:8]}"
                self.sessions[sid] = {"size": int(length), "data": bytearray(), "name": request.args.get("file_name")}
                return _json({"id": sid})
            if path.startswith("upload:"):
                return self._upload(request, path, token)
            if path == f"{self.PAGE_ID}/videos" and request.method == "POST":
                return self._publish(request, token)
            if path == f"{self.PAGE_ID}/videos" and request.method == "GET":
                since = int(request.args.get("since", 0))
                items = [{"id": vid, "title": v["title"], "created_time": v["created"]}
                         for vid, v in self.videos.items() if v["created"] >= since]
                return _json({"data": items})
            if path == f"{self.PAGE_ID}/video_reels" and request.method == "POST":
                return self._reel_phase(request, token)
            if path.startswith("video-upload/"):
                return self._reel_upload(request, path.rsplit("/", 1)[1], token)
            if path in self.reels and request.method == "GET":
                reel = self.reels[path]
                return _json({"id": path, "status": {
                    "video_status": "ready" if reel["published"] else "upload_complete",
                    "uploading_phase": {"status": "complete" if len(reel["data"]) == reel.get("size", -1)
                                        else "in_progress", "bytes_transferred": len(reel["data"])}}})
            if path in self.videos and request.method == "GET":
                return _json({"id": path, "status": {"video_status": "ready"},
                              "permalink_url": f"/{self.PAGE_ID}/videos/{path}/"})
            if request.method == "DELETE" and (path in self.videos or path in self.reels):
                self.videos.pop(path, None)
                self.reels.pop(path, None)
                return _json({"success": True})
        return self._error(100, f"Unsupported request {request.method} {path}", 404)

    def _upload(self, request: Request, sid: str, token: str) -> Response:
        session = self.sessions.get(sid)
        if session is None or token != self.USER_TOKEN:
            return self._error(100, "upload session not found")
        if request.method == "GET":
            return _json({"id": sid, "file_offset": len(session["data"])})
        offset = raw_header(request, "file_offset")
        if not offset.isdigit() or int(offset) != len(session["data"]):
            return self._error(100, f"file_offset {offset!r} does not match {len(session['data'])}")
        self.offsets_sent.append(int(offset))
        data = request.get_data()
        if self.keep_fraction is not None:
            keep = int(len(data) * self.keep_fraction)
            self.keep_fraction = None
            session["data"] += data[:keep]
            return self._error(2, "Service temporarily unavailable", 503)
        session["data"] += data
        if len(session["data"]) != session["size"]:
            return self._error(100, "upload incomplete")
        session["handle"] = f"4:{uuid.uuid4().hex}"
        return _json({"h": session["handle"]})

    def _publish(self, request: Request, token: str) -> Response:
        handle = request.form.get("fbuploader_video_file_chunk")
        session = next((s for s in self.sessions.values() if s.get("handle") == handle), None)
        if token != self.PAGE_TOKEN or session is None:
            return self._error(100, "a page token and a valid file handle are required")
        import time

        vid = str(10_000 + len(self.videos) + len(self.reels) + 1)
        self.videos[vid] = {"title": request.form.get("title", ""), "description": request.form.get("description"),
                            "size": session["size"], "created": int(time.time())}
        if self.lose_publish_answer:
            self.lose_publish_answer = False
            return self._error(1, "An unknown error occurred", 500)
        return _json({"id": vid})

    def _reel_phase(self, request: Request, token: str) -> Response:
        if token != self.PAGE_TOKEN:
            return self._error(200, "a page token is required", 403)
        phase = request.form.get("upload_phase")
        if phase == "start":
            vid = str(20_000 + len(self.reels) + 1)
            self.reels[vid] = {"data": bytearray(), "published": False}
            return _json({"video_id": vid, "upload_url": f"{self.url}/video-upload/v21.0/{vid}"})
        reel = self.reels.get(request.form.get("video_id", ""))
        if phase == "finish" and reel is not None:
            if len(reel["data"]) != reel.get("size") or request.form.get("video_state") != "PUBLISHED":
                return self._error(100, "upload not complete or video_state missing")
            reel["published"], reel["description"] = True, request.form.get("description")
            return _json({"success": True})
        return self._error(100, "bad upload_phase or video_id")

    def _reel_upload(self, request: Request, vid: str, token: str) -> Response:
        reel = self.reels.get(vid)
        offset, size = request.headers.get("offset", ""), raw_header(request, "file_size")
        if reel is None or token != self.PAGE_TOKEN or not offset.isdigit() or not size.isdigit():
            return _json({"debug_info": {"message": "offset, file_size and OAuth page token required"}}, 400)
        if int(offset) != len(reel["data"]):
            return _json({"debug_info": {"message": "offset mismatch"}}, 400)
        reel["size"] = int(size)
        reel["data"] += request.get_data()
        return _json({"success": True})


# --- Zalo Official Account open API (errors inside HTTP 200) --------------------------------------

class FakeZalo(FakeServer):
    APP_ID, SECRET = "2200", "zalo-secret"

    def __init__(self) -> None:
        super().__init__()
        self.refresh_tokens = {"zr-1"}
        self.tokens: set[str] = set()
        self.uploads: dict[str, dict[str, Any]] = {}
        self.articles: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self.convert_polls = 2
        self.fail_convert = False
        self.error_on_create: int | None = None

    @staticmethod
    def _err(code: int, message: str) -> Response:
        return _json({"error": code, "message": message})   # Zalo: HTTP 200 with error != 0

    def handle(self, request: Request) -> Response:
        if request.path == "/v4/oa/access_token":
            form = request.form
            if raw_header(request, "secret_key") != self.SECRET or form.get("app_id") != self.APP_ID:
                return _json({"error": -14001, "error_name": "Invalid app"})
            if form.get("refresh_token") not in self.refresh_tokens:
                return _json({"error": -14020, "error_name": "Invalid refresh token"})
            self.refresh_tokens.discard(form["refresh_token"])      # single use
            new_refresh = f"zr-{uuid.uuid4().hex[:6]}"
            self.refresh_tokens.add(new_refresh)
            token = f"za-{uuid.uuid4().hex}"
            self.tokens.add(token)
            return _json({"access_token": token, "refresh_token": new_refresh, "expires_in": "90000"})
        if raw_header(request, "access_token") not in self.tokens:
            return self._err(-216, "Access token is invalid")
        path = request.path
        with self.lock:
            if path == "/v2.0/article/upload_video/preparevideo" and request.method == "POST":
                file = request.files.get("file")
                if file is None:
                    return self._err(-201, "file is required")
                data = file.read()
                if len(data) > 50 * MB:
                    return self._err(-210, "File size exceeds limit")
                token = uuid.uuid4().hex
                self.uploads[token] = {"size": len(data), "polls": 0, "video_id": None}
                return _json({"error": 0, "message": "Success", "data": {"token": token}})
            if path == "/v2.0/article/upload_video/verify":
                upload = self.uploads.get(request.headers.get("token", ""))
                if upload is None:
                    return self._err(-201, "token does not exist")
                upload["polls"] += 1
                if self.fail_convert:
                    return _json({"error": 0, "data": {"status": 4, "convert_percent": 30, "convert_error_code": 3,
                                                       "status_message": "Convert failed"}})
                if upload["polls"] <= self.convert_polls:
                    return _json({"error": 0, "data": {"status": 3, "convert_percent": 50 * upload["polls"]}})
                upload["video_id"] = upload["video_id"] or f"zv{uuid.uuid4().hex[:8]}"
                return _json({"error": 0, "data": {"status": 1, "convert_percent": 100,
                                                   "video_id": upload["video_id"], "video_size": upload["size"]}})
            if path == "/v2.0/article/create":
                body = request.get_json(silent=True) or {}
                if self.error_on_create is not None:
                    code, self.error_on_create = self.error_on_create, None
                    return self._err(code, "Exceed rate limit" if code == -32 else "error")
                videos = {u["video_id"] for u in self.uploads.values()}
                if body.get("type") != "video" or body.get("video_id") not in videos or not body.get("title") \
                        or not body.get("description") or body.get("status") not in ("show", "hide"):
                    return self._err(-201, "Parameter is invalid")
                token = uuid.uuid4().hex
                self.pending[token] = {**body, "polls": 0}
                return _json({"error": 0, "data": {"token": token}})
            if path == "/v2.0/article/verify":
                item = self.pending.get((request.get_json(silent=True) or {}).get("token", ""))
                if item is None:
                    return self._err(-201, "token does not exist")
                item["polls"] += 1
                if item["polls"] == 1:
                    return _json({"error": 0, "data": {}})  # still being created
                if "id" not in item:
                    item["id"] = uuid.uuid4().hex[:16]
                    self.articles[item["id"]] = {"title": item["title"], "video_id": item["video_id"],
                                                 "status": "show", "link": f"https://zalo.me/article/{item['id']}"}
                return _json({"error": 0, "data": {"id": item["id"]}})
            if path == "/v2.0/article/getdetail":
                article = self.articles.get(request.args.get("id", ""))
                if article is None:
                    return self._err(-201, "Article does not exist")
                return _json({"error": 0, "data": {"id": request.args["id"], **article}})
            if path == "/v2.0/article/getslice":
                medias = [{"id": k, **v} for k, v in self.articles.items()]
                return _json({"error": 0, "data": {"medias": medias, "total": len(medias)}})
            if path == "/v2.0/article/remove":
                if self.articles.pop((request.get_json(silent=True) or {}).get("id", ""), None) is None:
                    return self._err(-201, "Article does not exist")
                return _json({"error": 0, "message": "Success"})
            if path == "/v2.0/oa/getoa":
                return _json({"error": 0, "data": {"name": "Ban Tuyên giáo"}})
        return self._err(-201, "unknown endpoint")


# --- WordPress REST API with Application Passwords ------------------------------------------------

class FakeWordPress(FakeServer):
    USER, APP_PASSWORD = "bientap", "abcd EFGH ijkl MNOP qrst UVWX"

    def __init__(self) -> None:
        super().__init__()
        self.media: dict[int, dict[str, Any]] = {}
        self.posts: dict[int, dict[str, Any]] = {}
        self.lose_post_answer = False
        self.next_id = 100

    @staticmethod
    def _err(code: str, message: str, status: int) -> Response:
        return _json({"code": code, "message": message, "data": {"status": status}}, status)

    def handle(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.USER, self.APP_PASSWORD):
            return self._err("incorrect_password", "The provided password is an invalid application password.", 401)
        path = request.path.removeprefix("/wp-json/wp/v2/")
        with self.lock:
            if path == "media" and request.method == "POST":
                m = re.search(r'filename="([^"]+)"', request.headers.get("Content-Disposition", ""))
                if not m:
                    return self._err("rest_upload_no_content_disposition", "No Content-Disposition supplied.", 400)
                if request.content_type not in ("video/mp4", "image/jpeg"):
                    return self._err("rest_upload_sideload_error", "Sorry, this file type is not permitted.", 500)
                self.next_id += 1
                item = {"id": self.next_id, "source_url": f"{self.url}/wp-content/uploads/2026/11/{m.group(1)}",
                        "mime_type": request.content_type, "size": len(request.get_data())}
                self.media[self.next_id] = item
                return _json(item, 201)
            if path == "media":
                search = request.args.get("search", "")
                return _json([m for m in self.media.values() if search in m["source_url"]])
            if path == "posts" and request.method == "POST":
                body = request.get_json(silent=True) or {}
                if not body.get("title") or body.get("status") not in ("publish", "future", "draft"):
                    return self._err("rest_invalid_param", "Invalid parameter(s): status", 400)
                if body.get("featured_media") and body["featured_media"] not in self.media:
                    return self._err("rest_invalid_featured_media", "Invalid featured media ID.", 400)
                self.next_id += 1
                post = {"id": self.next_id, "slug": body.get("slug") or str(self.next_id), "status": body["status"],
                        "title": {"raw": body["title"]}, "content": {"raw": body.get("content", "")},
                        "featured_media": body.get("featured_media") or 0}
                post["link"] = f"{self.url}/{post['slug']}/"
                self.posts[self.next_id] = post
                if self.lose_post_answer:
                    self.lose_post_answer = False
                    return self._err("internal_server_error", "There has been a critical error.", 500)
                return _json(post, 201)
            if path == "posts":
                slug = request.args.get("slug")
                return _json([p for p in self.posts.values() if p["slug"] == slug and p["status"] != "trash"])
            m = re.fullmatch(r"posts/(\d+)", path)
            if m:
                post = self.posts.get(int(m.group(1)))
                if post is None:
                    return self._err("rest_post_invalid_id", "Invalid post ID.", 404)
                if request.method == "DELETE":
                    post["status"] = "trash"
                return _json(post)
            if path == "users/me":
                return _json({"id": 1, "name": "Biên tập", "roles": ["editor"]})
        return self._err("rest_no_route", "No route was found matching the URL and request method.", 404)
