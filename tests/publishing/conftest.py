"""Recordings ready to publish (real MP4s made by ffmpeg, a VTT track, a poster) and channels."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Asset, Channel, Event, EventStatus, Recording
from orchestrator.secrets import set_channel_credentials
from tests.media_helpers import ffmpeg

VTT = ("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nXin chào các đồng chí\n\n"
       "00:00:01.500 --> 00:00:03.000\nBáo cáo chuyên đề\n")


def noisy_mp4(path: Path, seconds: float, size: str = "640x360") -> Path:
    """A real H.264/AAC MP4 whose size grows fast with `seconds` (noise at near-lossless quality)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds},noise=alls=60:allf=t",
           "-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
           "-qp", "6", "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path))
    return path


@pytest.fixture(autouse=True)
def allow_loopback_fakes(monkeypatch):
    """The fake platform APIs listen on 127.0.0.1, which the outbound guard refuses unless allowed, as
    an intranet WordPress would be (tests/publishing/test_outbound_guard.py checks the refusal)."""
    monkeypatch.setenv("DIEMCAU_OUTBOUND_ALLOW", "127.0.0.1")


@pytest.fixture(scope="session")
def small_mp4(tmp_path_factory) -> Path:
    return noisy_mp4(tmp_path_factory.mktemp("media") / "small.mp4", 0.4)      # ~2–4 MB


@pytest.fixture(scope="session")
def large_mp4(tmp_path_factory) -> Path:
    return noisy_mp4(tmp_path_factory.mktemp("media") / "large.mp4", 1.6)      # > 10 MB: several TikTok chunks


@pytest.fixture(scope="session")
def poster_jpg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("media") / "poster.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:d=1", "-frames:v", "1", str(path))
    return path


@pytest.fixture
def make_recording(app, poster_jpg):
    """A processed recording: MP4 (16:9), optional 9:16 social cut, Vietnamese VTT, poster."""
    def make(video: Path, *, title: str = "Đưa nghị quyết của Đảng vào cuộc sống", social: Path | None = None,
             user=None, confidential: bool = False) -> Recording:
        event = Event(kind="report", title=title, description="Báo cáo viên trình bày chuyên đề.",
                      status=EventStatus.READY.value, confidential=confidential,
                      created_by_id=user.id if user else None)
        rec = Recording(event=event, source_key="", original_filename=video.name, size_bytes=video.stat().st_size,
                        duration_s=3.0, created_by_id=user.id if user else None)
        db.session.add_all([event, rec])
        db.session.flush()
        store = core.storage()
        prefix = f"recordings/{rec.id}"
        rec.source_key = f"{prefix}/source/{video.name}"
        store.put_file(rec.source_key, video)
        store.put_file(f"{prefix}/media/download.mp4", video)
        store.put_bytes(f"{prefix}/subtitles/vi.vtt", VTT.encode())
        store.put_bytes(f"{prefix}/subtitles/vi.srt", b"1\n00:00:00,000 --> 00:00:01,500\nXin chao\n")
        store.put_file(f"{prefix}/media/poster.jpg", poster_jpg)
        db.session.add_all([
            Asset(recording=rec, kind="mp4", storage_key=f"{prefix}/media/download.mp4", meta={"aspect": "16:9"}),
            Asset(recording=rec, kind="subtitles_vtt", language="vi", storage_key=f"{prefix}/subtitles/vi.vtt"),
            Asset(recording=rec, kind="subtitles_srt", language="vi", storage_key=f"{prefix}/subtitles/vi.srt"),
            Asset(recording=rec, kind="poster", storage_key=f"{prefix}/media/poster.jpg"),
        ])
        if social is not None:
            store.put_file(f"{prefix}/media/social.mp4", social)
            db.session.add(Asset(recording=rec, kind="social_cut", storage_key=f"{prefix}/media/social.mp4",
                                 meta={"aspect": "9:16", "lufs": -14}))
        db.session.commit()
        return rec
    return make


@pytest.fixture
def make_channel(app):
    def make(kind: str, settings: dict, credentials: dict, **fields) -> Channel:
        channel = Channel(kind=kind, name=f"{kind} {uuid.uuid4().hex[:4]}", enabled=True,
                          settings={"retry_backoff_s": 0.05, "poll_interval_s": 0.05, "poll_timeout_s": 10,
                                    **settings}, **fields)
        set_channel_credentials(channel, credentials)
        db.session.add(channel)
        db.session.commit()
        return channel
    return make


@pytest.fixture
def publish_queue(app):
    """An empty publish queue (other tests' jobs must not run here)."""
    from rq import Queue

    with app.app_context():
        q = Queue("publish", connection=core.redis_connection())
        q.empty()
    return q
