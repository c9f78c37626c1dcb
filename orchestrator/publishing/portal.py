"""The built-in public portal as a publishing destination: publishing is giving the clip its slug and
marking it published; unpublishing hides it (the portal shows only published, non-confidential clips)."""
from __future__ import annotations

from .. import core
from ..naming import slugify
from .base import Adapter, JobContext, RemoteRef


def portal_slug(title: str, recording_id: int) -> str:
    return f"{slugify(title, 60)}-{recording_id}"


def media_base_url() -> str | None:
    """DIEMCAU_MEDIA_BASE_URL: where storage (or nginx in front of it) serves media publicly, so the
    portal emits storage URLs instead of streaming segments through Python (see docs/publishing.md)."""
    return core.options().media_base_url


class PortalAdapter(Adapter):
    kind = "portal"
    label = "Portal"
    prefers_loud = False  # the portal plays the broadcast-loudness (-23 LUFS) master

    def publish(self, ctx: JobContext) -> RemoteRef:
        slug = ctx.state.get("slug") or portal_slug(ctx.title, ctx.recording_id)
        ctx.remember(slug=slug)
        return RemoteRef(slug, (ctx.public_base or "") + f"/v/{slug}")

    def status(self, ctx: JobContext) -> RemoteRef | None:
        slug = ctx.state.get("slug")
        return RemoteRef(slug, (ctx.public_base or "") + f"/v/{slug}") if slug else None

    def unpublish(self, ctx: JobContext) -> None:
        return None  # the publication's status hides it; nothing lives elsewhere
