"""Portal search over the cues of current transcripts, with and without Vietnamese diacritics.

Every cue of a recording's current transcript is kept in `transcript_cues` with a folded copy
(lower case, no diacritics, words between spaces). A query is folded the same way, so "nghi quyet"
finds "Nghị quyết"; query words typed with diacritics must also match exactly, so "nghị" does not
return "nghĩ". On PostgreSQL the folded text is matched with full-text search (a GIN index on
to_tsvector('simple', folded)); elsewhere (SQLite) with LIKE on whole words.

Only publications that are live on the portal are searched; confidential events never are.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func

from transcribe.normalize import fold

from .db import db
from .models import Channel, Event, Publication, Recording, Transcript, TranscriptCue

MAX_QUERY_WORDS = 12
_WORD_RE = re.compile(r"\w+", re.UNICODE)


def folded_words(text: str) -> list[str]:
    return _WORD_RE.findall(fold(text))


def folded_key(text: str) -> str:
    """' dang bo tinh ': whole words can be matched with LIKE '% word %'."""
    return f" {' '.join(folded_words(text))} "


def index_cues(recording_id: int, language: str, cues: list[dict[str, Any]]) -> None:
    """Replace the indexed cues of one language of a recording (the caller commits)."""
    db.session.execute(db.delete(TranscriptCue).where(TranscriptCue.recording_id == recording_id,
                                                      TranscriptCue.language == language))
    db.session.add_all([
        TranscriptCue(recording_id=recording_id, language=language, position=n, start=float(c["start"]),
                      end=float(c["end"]), text=str(c["text"]).replace("\n", " "), folded=folded_key(c["text"]))
        for n, c in enumerate(cues)
    ])


def reindex_all() -> int:
    """Index the current transcript of every recording (after an upgrade, or to repair)."""
    count = 0
    rows = db.session.execute(db.select(Transcript.recording_id, Transcript.language,
                                        func.max(Transcript.version)).group_by(Transcript.recording_id,
                                                                               Transcript.language)).all()
    for recording_id, language, version in rows:
        row = db.session.execute(db.select(Transcript).filter_by(recording_id=recording_id, language=language,
                                                                 version=version)).scalar_one()
        index_cues(recording_id, language, row.cues or [])
        count += 1
    db.session.commit()
    return count


@dataclass
class Hit:
    start: float
    text: str
    language: str


@dataclass
class ClipResult:
    publication: Publication
    hits: list[Hit] = field(default_factory=list)


def _query_words(query: str) -> tuple[list[str], list[str]]:
    """(folded words, exact words typed with diacritics) of a query."""
    query = unicodedata.normalize("NFC", query or "").strip()
    words = _WORD_RE.findall(query.casefold())[:MAX_QUERY_WORDS]
    exact = [w for w in words if fold(w) != w]
    return [fold(w) for w in words], exact


def search(query: str, *, limit_clips: int = 20, hits_per_clip: int = 5, max_cues: int = 500) -> list[ClipResult]:
    """Published clips whose current transcripts contain every word of ``query``, newest first."""
    folded, exact = _query_words(query)
    if not folded:
        return []
    stmt = (db.select(TranscriptCue, Publication)
            .join(Recording, Recording.id == TranscriptCue.recording_id)
            .join(Event, Event.id == Recording.event_id)
            .join(Publication, Publication.recording_id == Recording.id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Channel.kind == "portal", Publication.status == "published", Event.confidential.is_(False)))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(func.to_tsvector("simple", TranscriptCue.folded)
                          .bool_op("@@")(func.plainto_tsquery("simple", " ".join(folded))))
    else:
        for word in folded:
            stmt = stmt.where(TranscriptCue.folded.like(f"% {_escape_like(word)} %", escape="\\"))
    stmt = stmt.order_by(Publication.published_at.desc(), TranscriptCue.language, TranscriptCue.start).limit(max_cues)
    results: dict[int, ClipResult] = {}
    for cue, publication in db.session.execute(stmt).all():
        if exact and not _has_words(cue.text, exact):
            continue
        result = results.get(publication.id)
        if result is None:
            if len(results) >= limit_clips:
                continue
            result = results[publication.id] = ClipResult(publication)
        if len(result.hits) < hits_per_clip:
            result.hits.append(Hit(cue.start, cue.text, cue.language))
    return list(results.values())


def _has_words(text: str, words: list[str]) -> bool:
    present = set(_WORD_RE.findall(unicodedata.normalize("NFC", text).casefold()))
    return all(w in present for w in words)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
