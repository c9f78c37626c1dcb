"""The one small interface every publishing destination implements, and what a publish job hands it.

An adapter is built per job from the channel's settings and decrypted credentials. `publish(ctx)` must
be safe to call again after any crash: it reads `ctx.state` (persisted after every remote step, before
the next one starts) and resumes or confirms instead of posting twice. `status`, `unpublish` and
`check` act on what `publish` recorded.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import requests

from ..outbound import OutboundRefused, check_url, guarded_session

log = logging.getLogger(__name__)

# Error codes shown per channel (translated in web.publish, Vietnamese in messages.po). `retryable` decides
# whether RQ retries the job by itself; the operator can always retry from the publish page.
ERROR_CODES = ("quota", "expired_token", "rejected_file", "auth", "config", "remote", "network",
               "processing_timeout", "not_found", "no_rendition", "outbound_refused")


class PublishError(Exception):
    def __init__(self, code: str, detail: str = "", *, retryable: bool = False):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.retryable = retryable


@dataclass
class RemoteRef:
    external_id: str
    url: str | None = None
    status: str = "published"  # published | processing | removed


@dataclass
class MediaFile:
    path: Path
    size: int
    mimetype: str = "video/mp4"
    aspect: str = "16:9"       # "9:16" for the social cut
    duration_s: float | None = None


@dataclass
class JobContext:
    publication_id: int
    idempotency_key: str
    recording_id: int
    title: str
    description: str
    video: MediaFile | None
    subtitles: list[tuple[str, Path]] = field(default_factory=list)   # (language, VTT path)
    thumbnail: Path | None = None
    privacy: str = "public"            # public | unlisted | private
    scheduled_at: datetime | None = None
    public_url: str | None = None      # the clip on our portal, for links back
    public_base: str | None = None     # DIEMCAU_PUBLIC_URL
    thumbnail_url: str | None = None   # a public URL of the poster (Zalo wants a URL, not a file)
    state: dict[str, Any] = field(default_factory=dict)
    save_state: Callable[[dict[str, Any]], None] = lambda state: None
    progress: Callable[[float], None] = lambda percent: None

    def remember(self, **values: Any) -> None:
        """Record a remote step as done, durably, before the next one starts."""
        self.state.update(values)
        self.save_state(self.state)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    secret: bool = False
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    url: bool = False   # an address the server connects to: checked by orchestrator.outbound


class Adapter(ABC):
    kind: ClassVar[str]
    label: ClassVar[str]
    settings_fields: ClassVar[tuple[FieldSpec, ...]] = ()
    credential_fields: ClassVar[tuple[FieldSpec, ...]] = ()
    prefers_vertical: ClassVar[bool] = False   # default rendition: the 9:16 social cut when there is one
    prefers_loud: ClassVar[bool] = True        # default loudness: -14 LUFS (social) rather than -23 (broadcast)

    def __init__(self, settings: dict[str, Any] | None, credentials: dict[str, Any] | None, *,
                 save_credentials: Callable[[dict[str, Any], datetime | None], None] | None = None):
        self.settings = dict(settings or {})
        self.credentials = credentials or {}
        self._save_credentials = save_credentials or (lambda updates, expires_at: None)
        self.poll_interval_s = float(self.settings.get("poll_interval_s") or 5.0)
        self.poll_timeout_s = float(self.settings.get("poll_timeout_s") or 900.0)
        self.retry_backoff_s = float(self.settings.get("retry_backoff_s") or 2.0)

    @abstractmethod
    def publish(self, ctx: JobContext) -> RemoteRef:
        """Post (or resume, or confirm) the publication; return where it lives."""

    @abstractmethod
    def status(self, ctx: JobContext) -> RemoteRef | None:
        """The remote state of what `publish` recorded in ctx.state; None when nothing is there."""

    @abstractmethod
    def unpublish(self, ctx: JobContext) -> None:
        """Remove (or hide) the remote post. Removing what is already gone is not an error."""

    def check(self) -> dict[str, Any]:
        """Verify the credentials with a harmless call; returns what the remote says about the account."""
        return {}

    # --- helpers shared by the HTTP adapters -------------------------------------------------------

    def _fresh_access_token(self, margin: timedelta) -> str | None:
        """The stored OAuth access token while it stays valid for at least `margin`, else None."""
        c = self.credentials
        expiry = c.get("access_token_expiry")
        if c.get("access_token") and expiry and datetime.fromisoformat(expiry) > datetime.now(UTC) + margin:
            return c["access_token"]
        return None

    def _remember_access_token(self, data: dict[str, Any], default_expires_in: int,
                               refresh_expires_at: datetime | None) -> str:
        """Keep a token-refresh answer (access token, its expiry, a rotated refresh token) here and in
        the database; returns the access token."""
        now = datetime.now(UTC)
        updates = {"access_token": data["access_token"], "access_token_expiry": (
            now + timedelta(seconds=int(data.get("expires_in") or default_expires_in))).isoformat()}
        if data.get("refresh_token"):
            updates["refresh_token"] = data["refresh_token"]
        self.credentials.update(updates)
        self._save_credentials(updates, refresh_expires_at)
        return data["access_token"]

    def check_destinations(self) -> None:
        """Refuse configured addresses that are not public (orchestrator.outbound); for transports that
        do not go through `_session()` (YouTube's httplib2), called before they connect."""
        for spec in self.settings_fields:
            value = spec.url and self.settings.get(spec.name)
            if value:
                try:
                    check_url(value)
                except OutboundRefused as exc:
                    raise PublishError("outbound_refused", str(exc)) from None
                except OSError as exc:
                    raise PublishError("network", f"{spec.name}: {type(exc).__name__}", retryable=True) from None

    def _session(self) -> requests.Session:
        session = getattr(self, "_http", None)
        if session is None:
            session = self._http = guarded_session()
            session.headers["User-Agent"] = "DiemCau-publisher/1"
        return session

    def _http_call(self, method: str, url: str, *, timeout: float = 60, **kwargs: Any) -> requests.Response:
        """One HTTP call; transport failures become a retryable PublishError (the job resumes later)."""
        try:
            return self._session().request(method, url, timeout=timeout, **kwargs)
        except OutboundRefused as exc:
            raise PublishError("outbound_refused", str(exc)) from None
        except requests.RequestException as exc:
            raise PublishError("network", f"{method} {url.split('?')[0]}: {type(exc).__name__}",
                               retryable=True) from None

    def _poll(self, fetch: Callable[[], RemoteRef | None], what: str) -> RemoteRef:
        """Poll the remote processing status until it is published, within poll_timeout_s."""
        deadline = time.monotonic() + self.poll_timeout_s
        while True:
            ref = fetch()
            if ref is not None and ref.status == "published":
                return ref
            if time.monotonic() > deadline:
                # The job is retried later and confirms then: processing goes on remotely.
                raise PublishError("processing_timeout", what, retryable=True)
            time.sleep(self.poll_interval_s)


def read_chunks(path: Path, offset: int, size: int):
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(size)
