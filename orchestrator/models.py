"""Domain models (docs/architecture.md). Times are stored in UTC."""
from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    ADMIN = "admin"
    TECHNICIAN = "technician"
    EDITOR = "editor"
    SPEAKER = "speaker"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.SPEAKER.value)
    locale: Mapped[str | None] = mapped_column(String(10), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Part of every session and remember-me cookie (see get_id): bumping it ends them all.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """The login id Flask-Login keeps in the session and the remember-me cookie: "<id>.<session
        version>.<nonce>" (accounts.start_session draws the nonce, so each login's cookie differs)."""
        return getattr(self, "login_id", None) or f"{self.id}.{self.session_version}"

    def has_role(self, *roles: str | Role) -> bool:
        wanted = {r.value if isinstance(r, Role) else r for r in roles}
        return self.role == Role.ADMIN.value or self.role in wanted


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    PROCESSING = "processing"
    READY = "ready"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Event(db.Model):
    """A conference, a report recording, or an uploaded video."""
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="upload")  # upload | conference | report
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(10), default="vi")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.SCHEDULED.value, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Scheduling: the series, the host and studio sites, the speaker.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), nullable=True, index=True)
    host_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    studio_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    recurrence: Mapped[str | None] = mapped_column(String(200), nullable=True)  # RRULE, on the first occurrence
    recurrence_parent_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), nullable=True, index=True)
    # Speech recognition: names and terms, one per line, fed to the decoder (orchestrator.glossary).
    glossary: Mapped[str | None] = mapped_column(Text, nullable=True)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    recordings: Mapped[list[Recording]] = relationship(back_populates="event", order_by="Recording.id")
    series: Mapped[Series | None] = relationship(foreign_keys=[series_id])
    host_site: Mapped[Site | None] = relationship(foreign_keys=[host_site_id])
    studio_site: Mapped[Site | None] = relationship(foreign_keys=[studio_site_id])
    speaker: Mapped[User | None] = relationship(foreign_keys=[speaker_id])


class Recording(db.Model):
    """The raw master of an event in storage."""
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    source_key: Mapped[str] = mapped_column(String(500))
    original_filename: Mapped[str] = mapped_column(String(500), default="")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    event: Mapped[Event] = relationship(back_populates="recordings")
    created_by: Mapped[User | None] = relationship()
    stages: Mapped[list[StageRun]] = relationship(back_populates="recording", order_by="StageRun.position")
    assets: Mapped[list[Asset]] = relationship(back_populates="recording", order_by="Asset.id")

    def asset(self, kind: str, language: str | None = None) -> Asset | None:
        return next((a for a in self.assets if a.kind == kind and a.language == language), None)

    def stage(self, name: str) -> StageRun | None:
        return next((s for s in self.stages if s.stage == name), None)


class StageStatus(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class StageRun(db.Model):
    """One pipeline stage of one recording: the source of truth for progress and completion."""
    __tablename__ = "stage_runs"
    __table_args__ = (UniqueConstraint("recording_id", "stage", name="uq_stage_runs_recording_stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=StageStatus.PENDING.value, index=True)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rq_job_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    recording: Mapped[Recording] = relationship(back_populates="stages")

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Asset(db.Model):
    """Derived media stored under a deterministic key prefix of its recording."""
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("recording_id", "kind", "language", name="uq_assets_recording_kind_lang"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # hls | mp4 | audio | poster | subtitles_vtt | subtitles_srt
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    storage_key: Mapped[str] = mapped_column(String(500))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    recording: Mapped[Recording] = relationship(back_populates="assets")


class Transcript(db.Model):
    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("recording_id", "language", "version", name="uq_transcripts_rec_lang_ver"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    language: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(20), default="automatic")  # automatic | edited
    text: Mapped[str] = mapped_column(Text, default="")
    cues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # segments and words
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TranscriptCue(db.Model):
    """One cue of the current transcript of a recording, with a diacritic-free copy: what portal search reads."""
    __tablename__ = "transcript_cues"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    language: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer, default=0)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    folded: Mapped[str] = mapped_column(Text)  # " dang bo tinh ": lower case, no diacritics, spaces around


class Channel(db.Model):
    """A publishing destination. The built-in portal is one; external ones arrive with their adapters."""
    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # portal | youtube | facebook | zalo | tiktok | wordpress
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Publishing: secrets as a Fernet token (orchestrator.secrets), never in `settings`;
    # when the long-lived credential (refresh token, page token) stops working, warned before it breaks.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    credentials_expire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_check: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Publication(db.Model):
    """One asset set on one channel. The idempotency key makes re-runs confirm instead of re-post."""
    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("recording_id", "channel_id", name="uq_publications_rec_channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    slug: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    external_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    # Publishing: what the editor approved for this channel, and the adapter's resume state.
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # rendition, privacy, download
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    remote_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    rq_job_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    recording: Mapped[Recording] = relationship()
    channel: Mapped[Channel] = relationship()


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str] = mapped_column(String(50), default="")
    target_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def audit(user: User | None, action: str, target: Any = None, **detail: Any) -> None:
    db.session.add(AuditLog(
        user_id=user.id if user is not None and getattr(user, "is_authenticated", False) else None,
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=getattr(target, "id", None),
        detail=detail or None,
    ))


# --- feature tables: the sites tree, scheduling, event documents, media products -----------------------

class Site(db.Model):
    """An endpoint room in the tree: central, province, district, commune, or any other level."""
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(40), default="", index=True)  # province | district | commune | any
    unit_type: Mapped[str] = mapped_column(String(40), default="")         # tinh, huyen, xa, phuong… as imported
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True, index=True)
    path: Mapped[str] = mapped_column(String(400), default="", index=True)  # "/<root id>/…/<own id>/"
    depth: Mapped[int] = mapped_column(Integer, default=0)
    room_name: Mapped[str] = mapped_column(String(200), default="")
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    technician_name: Mapped[str] = mapped_column(String(200), default="")
    technician_phone: Mapped[str] = mapped_column(String(40), default="")
    # The media server (relay node) this site and the sites below it play the program from; empty:
    # the node of the nearest site above that has one, else the origin (DIEMCAU_MEDIA_URL).
    media_node_url: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # Signed into the site's calendar-feed URL; revoking one of the site's join links bumps it.
    feed_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def display_room(self) -> str:
        return self.room_name or self.name

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "name": self.name, "level": self.level,
                "unit_type": self.unit_type, "parent_id": self.parent_id, "depth": self.depth,
                "room_name": self.room_name, "capacity": self.capacity,
                "technician_name": self.technician_name, "technician_phone": self.technician_phone,
                "media_node_url": self.media_node_url}


class Series(db.Model):
    """A named run of events (the monthly reporter conference, a report series)."""
    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Names and terms for speech recognition shared by the series' events (migration 0004_transcripts).
    glossary: Mapped[str | None] = mapped_column(Text, nullable=True)


# A site's live state in an event, as its page and the media server report it.
PARTICIPATION_STATES = ("not_joined", "joined", "receiving", "degraded", "dropped")


class Participation(db.Model):
    """One site in one event: its join token version, live state, media statistics and attendance."""
    __tablename__ = "participations"
    __table_args__ = (UniqueConstraint("event_id", "site_id", name="uq_participations_event_site"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(20), default=PARTICIPATION_STATES[0])
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rtt_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    loss_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float, nullable=True)
    attendance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    site: Mapped[Site] = relationship()
    event: Mapped[Event] = relationship()


class EventDocument(db.Model):
    """A document handed out with an event (PDF, Word, slides), listed on every site's join page."""
    __tablename__ = "event_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))           # pdf | docx | pptx | xlsx | doc | ppt | odt | odp
    content_type: Mapped[str] = mapped_column(String(120))
    storage_key: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "filename": self.filename, "kind": self.kind, "size_bytes": self.size_bytes,
                "content_type": self.content_type}


MEDIA_PRODUCT_ACTIVE = ("queued", "running")  # a job is waiting or running


class MediaProduct(db.Model):
    """A trim decision or a social cut, with the state of the job that makes it."""
    __tablename__ = "media_products"
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # trim | social_cut
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    # trim: {"edit": {in_s, out_s, cuts} on the previous edit's timeline, "keep": source ranges, "reset": bool}
    # social_cut: {"start_s", "end_s" on the edited timeline, "mode", "language", "keep": source ranges}
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    rq_job_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    recording: Mapped[Recording] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.status in MEDIA_PRODUCT_ACTIVE
