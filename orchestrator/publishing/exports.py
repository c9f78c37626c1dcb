"""Transcript exports for speakers (TXT and DOCX), stored under deterministic keys beside the recording
so a download link is a signed storage URL like any other file."""
from __future__ import annotations

import io

from .. import core
from ..db import db
from ..models import Recording, Transcript


def latest_transcript(recording: Recording, language: str) -> Transcript | None:
    return db.session.execute(db.select(Transcript).filter_by(recording_id=recording.id, language=language)
                              .order_by(Transcript.version.desc()).limit(1)).scalar_one_or_none()


def _stamp(seconds: float) -> str:
    total = int(seconds)
    return f"{total // 3600:d}:{total % 3600 // 60:02d}:{total % 60:02d}" if total >= 3600 else \
        f"{total // 60:d}:{total % 60:02d}"


def transcript_export(recording: Recording, language: str, fmt: str) -> str | None:
    """The storage key of the transcript as TXT or DOCX (made on first request); None without transcript."""
    transcript = latest_transcript(recording, language)
    if transcript is None:
        return None
    key = f"recordings/{recording.id}/exports/transcript.{language}.v{transcript.version}.{fmt}"
    store = core.storage()
    if store.exists(key):
        return key
    title = recording.event.title
    cues = transcript.cues or []
    if fmt == "txt":
        lines = [title, ""] + [f"[{_stamp(c['start'])}] {c['text']}" for c in cues]
        if not cues:
            lines.append(transcript.text)
        store.put_bytes(key, ("\n".join(lines) + "\n").encode("utf-8"), "text/plain; charset=utf-8")
        return key
    from docx import Document  # python-docx: a real Word document, readable everywhere

    doc = Document()
    doc.add_heading(title, level=1)
    if recording.event.description:
        doc.add_paragraph(recording.event.description)
    for cue in cues:
        para = doc.add_paragraph()
        para.add_run(f"[{_stamp(cue['start'])}] ").bold = True
        para.add_run(cue["text"])
    if not cues:
        doc.add_paragraph(transcript.text)
    buf = io.BytesIO()
    doc.save(buf)
    store.put_bytes(key, buf.getvalue(),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    return key
