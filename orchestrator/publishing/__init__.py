"""Publishing destinations: one adapter module per channel kind (see base.Adapter), and the fan-out
of one approval into one publish job per channel (service)."""
from __future__ import annotations

from .base import Adapter, FieldSpec, JobContext, MediaFile, PublishError, RemoteRef


def adapter_classes() -> dict[str, type[Adapter]]:
    from .facebook import FacebookAdapter
    from .portal import PortalAdapter
    from .tiktok import TikTokAdapter
    from .wordpress import WordPressAdapter
    from .youtube import YouTubeAdapter
    from .zalo import ZaloAdapter

    return {cls.kind: cls for cls in (PortalAdapter, YouTubeAdapter, FacebookAdapter, ZaloAdapter, TikTokAdapter,
                                      WordPressAdapter)}


__all__ = ["Adapter", "FieldSpec", "JobContext", "MediaFile", "PublishError", "RemoteRef", "adapter_classes"]
