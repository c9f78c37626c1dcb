"""Recordings with a machine transcript, made without running Whisper (for editor, search and portal tests).

The transcript goes through the production code (orchestrator.transcripts.store_automatic), so its
cues, word confidences, subtitle files and search index are what a real transcription leaves.
"""
from __future__ import annotations

import uuid
from pathlib import Path

from orchestrator import core
from orchestrator.db import db
from orchestrator.models import Asset, Event, Publication, Recording
from orchestrator.seed import portal_channel
from orchestrator.transcripts import store_automatic
from transcribe import Segment, Transcript, Word

# (start, end, word, confidence): two sentences, with two words the recogniser was unsure of.
WORDS = [
    (0.5, 0.9, "Nghị", 0.95), (0.9, 1.3, "quyết", 0.93), (1.3, 1.6, "của", 0.97), (1.6, 2.0, "Đảng", 0.9),
    (2.0, 2.3, "bộ", 0.92), (2.3, 2.8, "tỉnh.", 0.88),
    (4.0, 4.4, "Xã", 0.96), (4.4, 4.9, "Lũng", 0.31), (4.9, 5.3, "Cú", 0.28), (5.3, 5.7, "đón", 0.9),
    (5.7, 6.1, "chào", 0.94), (6.1, 6.6, "năm", 0.95), (6.6, 7.2, "mới.", 0.97),
]


def machine_transcript(duration: float = 10.0, language: str = "vi") -> Transcript:
    first = [Word(s, e, t, p) for s, e, t, p in WORDS[:6]]
    second = [Word(s, e, t, p) for s, e, t, p in WORDS[6:]]
    return Transcript(language, duration, [
        Segment(first[0].start, first[-1].end, " ".join(w.text for w in first), first, -0.3, 0.01),
        Segment(second[0].start, second[-1].end, " ".join(w.text for w in second), second, -0.4, 0.01),
    ], "test", {})


def make_transcribed_recording(*, title: str = "Hội nghị học tập nghị quyết", video: Path | None = None,
                               confidential: bool = False, duration: float = 10.0,
                               english: bool = False) -> Recording:
    event = Event(kind="upload", title=title, language="vi", status="ready", confidential=confidential)
    recording = Recording(event=event, source_key=f"recordings/test-{uuid.uuid4().hex}/source.mp4",
                          original_filename="clip.mp4", duration_s=duration, probe={"has_audio": True})
    db.session.add_all([event, recording])
    db.session.flush()
    if video is not None:
        key = f"recordings/{recording.id}/media/video.mp4"
        core.storage().put_file(key, video, "video/mp4")
        db.session.add(Asset(recording=recording, kind="mp4", storage_key=key))
    transcripts = {"vi": machine_transcript(duration)}
    if english:
        words = [Word(0.5, 1.2, "Resolution", 0.9), Word(1.2, 2.0, "of", 0.9), Word(2.0, 2.8, "the Party.", 0.9)]
        transcripts["en"] = Transcript("en", duration, [Segment(0.5, 2.8, "Resolution of the Party.", words)],
                                       "test", {})
    db.session.refresh(recording)
    store_automatic(recording, transcripts)
    db.session.commit()
    return recording


def publish_on_portal(recording: Recording) -> Publication:
    pub = Publication(recording_id=recording.id, channel_id=portal_channel().id, status="published",
                      slug=f"clip-{recording.id}-{uuid.uuid4().hex[:6]}", idempotency_key=f"test:{uuid.uuid4().hex}",
                      published_at=db.func.now())
    db.session.add(pub)
    db.session.commit()
    return pub
