"""Glossaries: names and terms of an event (and its series and sites) that help speech recognition.

An event's glossary is free text, one term per line (people, places, resolutions: "Nghị quyết",
"Đảng bộ tỉnh", commune names). Its series' glossary and the names of the sites taking part are
added. How the terms reach the decoder was chosen by measurement (docs/asr.md, "Glossary").
"""
from __future__ import annotations

import unicodedata
from typing import Any

from transcribe.glossary import decoder_hints, parse_terms

from .db import db
from .models import Event
from .scheduling import Participation

MAX_SITE_TERMS = 200


def terms_for(event: Event) -> list[str]:
    """The event's terms, then its series', then the names of its sites; without duplicates."""
    terms: list[str] = list(parse_terms(event.glossary or ""))
    series = getattr(event, "series", None)
    if series is not None:
        terms += parse_terms(getattr(series, "glossary", None) or "")
    terms += _site_names(event)
    seen: set[str] = set()
    out = []
    for term in terms:
        key = unicodedata.normalize("NFC", term).casefold()
        if key not in seen:
            seen.add(key)
            out.append(term)
    return out


def _site_names(event: Event) -> list[str]:
    if event.id is None:
        return []
    names: list[str] = []
    for site in (getattr(event, "host_site", None), getattr(event, "studio_site", None)):
        if site is not None:
            names.append(site.name)
    rows = db.session.execute(db.select(Participation).filter_by(event_id=event.id).limit(MAX_SITE_TERMS)).scalars()
    names += [p.site.name for p in rows if p.site is not None]
    return [_strip_unit_type(n) for n in names if n]


def _strip_unit_type(name: str) -> str:
    """'Xã Lũng Cú' -> 'Lũng Cú': the unit type is said rarely and adds nothing to recognition."""
    for prefix in ("Thành phố ", "Thị xã ", "Thị trấn ", "Huyện ", "Tỉnh ", "Xã ", "Phường "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def decode_hints_for(event: Event) -> dict[str, Any]:
    return decoder_hints(terms_for(event))


def set_event_glossary(event: Event, text: str) -> list[str]:
    """Store an edited glossary (normalised, one term per line); returns the terms."""
    terms = parse_terms(text)
    event.glossary = "\n".join(terms) or None
    return terms
