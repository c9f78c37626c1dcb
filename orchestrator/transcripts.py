"""Transcript versions of a recording, and the subtitle files rendered from the current one.

Every language of a recording has numbered versions: version 1 is what the machine produced
("automatic"); each save in the editor adds the next version ("edited", with who and when). The
highest version is the current one: its cues are rendered to WebVTT/SRT assets (what players load)
and indexed for portal search. A re-run of transcription never replaces an edited version.
"""
from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media import MediaError
from media.timeline import shift_cues
from transcribe import Cue, Transcript, build_cues, write_srt, write_vtt
from transcribe.textutil import join_words, nfc

from . import core
from .db import db
from .models import Asset, Recording, User, audit
from .models import Transcript as TranscriptRow
from .naming import subtitles_prefix
from .products import DONE, SOCIAL_CUT, EditRefused, MediaProduct, create_social_cut, current_timeline
from .search import index_cues

log = logging.getLogger(__name__)

AUTOMATIC = "automatic"
EDITED = "edited"
# Words the recogniser was less sure of than this are highlighted in the editor.
LOW_CONFIDENCE = 0.5
MAX_CUE_CHARS = 500
MAX_CUES = 20_000


class EditError(Exception):
    """An edit that cannot be saved; ``code`` maps to a translated message in web/messages.py."""

    def __init__(self, code: str, detail: str = "", **params: Any) -> None:
        super().__init__(detail or code)
        self.code, self.detail, self.params = code, detail, params


# --- reading -----------------------------------------------------------------------------------

def versions(recording_id: int, language: str) -> list[TranscriptRow]:
    """All versions of one language, newest first."""
    return list(db.session.execute(db.select(TranscriptRow).filter_by(recording_id=recording_id, language=language)
                                   .order_by(TranscriptRow.version.desc())).scalars())


def current(recording_id: int, language: str) -> TranscriptRow | None:
    return next(iter(versions(recording_id, language)), None)


def languages(recording_id: int) -> list[str]:
    rows = db.session.execute(db.select(TranscriptRow.language).filter_by(recording_id=recording_id)
                              .distinct()).scalars()
    return sorted(rows, key=lambda lang: (lang != "vi", lang))


# --- cues with words ---------------------------------------------------------------------------

def cues_with_words(transcript: Transcript, cues: list[Cue] | None = None) -> list[dict[str, Any]]:
    """Cue dicts for storage: times, text and the recognised words (with confidence) they show."""
    cues = build_cues(transcript) if cues is None else cues
    words = [w for seg in transcript.segments for w in seg.words]
    out: list[dict[str, Any]] = []
    k = 0
    for n, cue in enumerate(cues):
        limit = cues[n + 1].start if n + 1 < len(cues) else math.inf
        mine = []
        while k < len(words) and (words[k].start < limit or n + 1 == len(cues)):
            w = words[k]
            mine.append({"t": nfc(w.text), "s": w.start, "e": w.end, "p": round(w.probability, 3)})
            k += 1
        cue_dict: dict[str, Any] = {"start": cue.start, "end": cue.end, "text": cue.text}
        # Only when the words spell the cue exactly: then the editor can show each word's confidence.
        if mine and _same_text(join_words(m["t"] for m in mine), cue.text):
            cue_dict["words"] = mine
        out.append(cue_dict)
    return out


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def low_confidence_words(cue: dict[str, Any], threshold: float = LOW_CONFIDENCE) -> list[str]:
    return [w["t"] for w in cue.get("words") or [] if w.get("p", 1.0) < threshold]


# --- writing -----------------------------------------------------------------------------------

@dataclass
class Stored:
    language: str
    version: int
    cues: int
    kept_edited: bool = False


def store_automatic(recording: Recording, transcripts: dict[str, Transcript]) -> list[Stored]:
    """Record machine transcripts (one per language) as version 1 and render their subtitles.

    Idempotent: a re-run overwrites version 1. A language that has edited versions keeps them
    and its subtitles: the editor's work is never replaced by the machine.
    Adds to the session; the caller commits.
    """
    stored = []
    for language, transcript in transcripts.items():
        existing = versions(recording.id, language)
        if any(row.source == EDITED for row in existing):
            stored.append(Stored(language, existing[0].version, len(existing[0].cues or []), kept_edited=True))
            continue
        cues = cues_with_words(transcript)
        row = next((r for r in existing if r.version == 1), None)
        if row is None:
            row = TranscriptRow(recording_id=recording.id, language=language, version=1, source=AUTOMATIC)
            db.session.add(row)
        row.text, row.cues, row.data = transcript.text, cues, transcript.to_dict()
        render_subtitles(recording, language, cues)
        index_cues(recording.id, language, cues)
        stored.append(Stored(language, 1, len(cues)))
    return stored


def render_subtitles(recording: Recording, language: str, cues: list[dict[str, Any]]) -> None:
    """Write the cues as WebVTT and SRT into storage and point the subtitle assets at them.

    When the recording was trimmed, players get the video of the edit: the subtitle
    assets then point at a copy re-timed onto the edited timeline, like a trim itself makes.
    """
    prefix = subtitles_prefix(recording)
    _write_pair(f"{prefix}/{language}", language, cues)
    keys = {"subtitles_vtt": f"{prefix}/{language}.vtt", "subtitles_srt": f"{prefix}/{language}.srt"}
    meta: dict[str, Any] = {"cues": len(cues)}
    timeline = current_timeline(recording)
    if timeline is not None:
        shifted = shift_cues(cues, timeline)
        edit = f"recordings/{recording.id}/edit/subtitles/{language}"
        _write_pair(edit, language, shifted)
        keys = {"subtitles_vtt": f"{edit}.vtt", "subtitles_srt": f"{edit}.srt"}
        meta = {"cues": len(shifted), "dropped": len(cues) - len(shifted), "timeline": timeline.to_json()}
    for kind, key in keys.items():
        asset = recording.asset(kind, language)
        if asset is None:
            asset = Asset(recording=recording, kind=kind, language=language, storage_key=key)
            db.session.add(asset)
        asset.storage_key, asset.meta = key, meta


def _write_pair(base_key: str, language: str, cues: list[dict[str, Any]]) -> None:
    objects = [Cue(float(c["start"]), float(c["end"]), nfc_lines(c["text"])) for c in cues]
    store = core.storage()
    with tempfile.TemporaryDirectory(prefix="subtitles-") as tmp:
        vtt = write_vtt(objects, Path(tmp) / f"{language}.vtt", language=language)
        srt = write_srt(objects, Path(tmp) / f"{language}.srt")
        store.put_file(f"{base_key}.vtt", vtt, "text/vtt; charset=utf-8")
        store.put_file(f"{base_key}.srt", srt, "application/x-subrip; charset=utf-8")


def rerender_social_cuts(recording: Recording, language: str, user: User | None) -> int:
    """Queue again every social cut with ``language`` subtitles burned in (they show the old text)."""
    cuts = db.session.execute(db.select(MediaProduct).filter_by(recording_id=recording.id, kind=SOCIAL_CUT,
                                                                status=DONE).order_by(MediaProduct.id.desc())
                              ).scalars().all()
    seen: set[tuple] = set()
    queued = 0
    for cut in cuts:
        params = cut.params or {}
        key = (params.get("start_s"), params.get("end_s"), params.get("mode"))
        if params.get("language") != language or key in seen:
            continue
        seen.add(key)
        try:
            create_social_cut(recording, user, start_s=params["start_s"], end_s=params["end_s"],
                              mode=params.get("mode") or "centre", language=language)
            queued += 1
        except (EditRefused, MediaError, KeyError) as exc:
            log.warning("social cut %s of recording %s not re-rendered: %s", cut.id, recording.id, exc)
    return queued


def nfc_lines(text: str) -> str:
    """NFC per line, at most two lines kept as the editor wrote them."""
    lines = [nfc(line) for line in str(text).replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line)


def clean_edit(cues: Any, duration_s: float | None) -> list[dict[str, Any]]:
    """Validate cues sent by the editor; raises EditError with the first problem found."""
    if not isinstance(cues, list):
        raise EditError("cues_invalid")
    if len(cues) > MAX_CUES:
        raise EditError("cues_too_many")
    limit = (duration_s or 0.0) + 1.0 if duration_s else math.inf
    out: list[dict[str, Any]] = []
    for n, cue in enumerate(cues, start=1):
        if not isinstance(cue, dict):
            raise EditError("cues_invalid")
        try:
            start, end = float(cue["start"]), float(cue["end"])
        except (KeyError, TypeError, ValueError):
            raise EditError("cue_time_invalid", number=n) from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start or end > limit:
            raise EditError("cue_time_invalid", number=n)
        text = nfc_lines(cue.get("text") or "")
        if not text:
            raise EditError("cue_empty", number=n)
        if len(text) > MAX_CUE_CHARS:
            raise EditError("cue_too_long", number=n)
        item: dict[str, Any] = {"start": round(start, 3), "end": round(end, 3), "text": text}
        words = cue.get("words")
        # Confidence marks stay only on cues whose text was not changed (the words still spell it).
        if isinstance(words, list) and words and all(isinstance(w, dict) for w in words):
            try:
                kept = [{"t": nfc(str(w["t"])), "s": float(w["s"]), "e": float(w["e"]), "p": float(w["p"])}
                        for w in words]
            except (KeyError, TypeError, ValueError):
                kept = []
            if kept and _same_text(join_words(w["t"] for w in kept), text):
                item["words"] = kept
        out.append(item)
    out.sort(key=lambda c: (c["start"], c["end"]))
    for n in range(1, len(out)):
        if out[n]["start"] < out[n - 1]["end"] - 0.001:
            raise EditError("cue_overlap", number=n + 1)
    return out


def save_edit(recording: Recording, language: str, cues: Any, user: User, base_version: int | None) -> TranscriptRow:
    """Store the editor's cues as a new version, re-render the subtitles and re-index search.

    ``base_version`` is the version the editor started from: if someone saved in between, the
    save is refused (EditError "version_conflict") instead of silently overwriting their work.
    """
    cleaned = clean_edit(cues, recording.duration_s)
    latest = current(recording.id, language)
    latest_version = latest.version if latest else 0
    if base_version is not None and base_version != latest_version:
        raise EditError("version_conflict", latest=latest_version)
    row = TranscriptRow(recording_id=recording.id, language=language, version=latest_version + 1, source=EDITED,
                        text=nfc(join_words(line for c in cleaned for line in c["text"].split("\n"))),
                        cues=cleaned, data=None, created_by_id=user.id)
    db.session.add(row)
    render_subtitles(recording, language, cleaned)
    index_cues(recording.id, language, cleaned)
    audit(user, "transcript.edit", recording, language=language, version=row.version, cues=len(cleaned))
    db.session.commit()
    rerender_social_cuts(recording, language, user)
    return row
