"""Invitations: per-site join tokens (signed, revocable), QR codes, .ics files, a per-site calendar feed,
and the documents attached to an event (paperless meetings).

A join token is `tokens.sign("site", event_id, site_id, version)`; revoking bumps the participation's
`token_version` (and the Redis copy the media server reads), which invalidates every older link, and the
site's `feed_version`, which invalidates every older calendar-feed URL of the site.
"""
from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import qrcode
from icalendar import Calendar
from icalendar import Event as IcsEvent

from groundwork import tokens

from . import core, runtime
from .db import db
from .models import Event, EventDocument, EventStatus, Participation, Site, User, audit
from .naming import storage_safe_name
from .scheduling import as_utc, now

JOIN_MAX_AGE_S = 120 * 24 * 3600        # a link is signed when the invitations go out, weeks before the event
AFTER_END_GRACE = timedelta(hours=24)   # the join page still opens (documents) for a day after the end
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
FEED_MAX_AGE_S = 365 * 24 * 3600        # a calendar subscription; the site page always shows a fresh URL

# A site's join link was revoked (sender: its Participation, with the new token version). The live plane
# tells the media server, which drops the site's connections made with the old link.
site_link_revoked = runtime.signals.signal("site-link-revoked")


class JoinError(Exception):
    """Why a join link does not open: invalid | expired | revoked | wrong_kind | other_event | other_site |
    not_invited | cancelled | ended."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class JoinGrant:
    event: Event
    site: Site
    participation: Participation


# --- join tokens --------------------------------------------------------------------------------

def join_token(p: Participation) -> str:
    return tokens.sign("site", p.event_id, p.site_id, p.token_version, secret=core.token_secret())


def check_join(token: str, *, event_id: int | None = None, site_id: int | None = None,
               for_update: bool = False) -> JoinGrant:
    """Verify a join link. `event_id`/`site_id` come from the URL: a token for another event or site is refused."""
    try:
        grant = tokens.verify(token, max_age_s=JOIN_MAX_AGE_S, secret=core.token_secret())
    except tokens.TokenError as exc:
        raise JoinError(exc.code) from None
    if grant.kind != "site":
        raise JoinError("wrong_kind")
    if event_id is not None and grant.event_id != event_id:
        raise JoinError("other_event")
    if site_id is not None and grant.subject_id != site_id:
        other = db.session.get(Site, grant.subject_id)
        raise JoinError("other_site", site=other.name if other else "")
    p = db.session.execute(db.select(Participation).filter_by(event_id=grant.event_id, site_id=grant.subject_id)
                           ).scalar_one_or_none()
    if p is None:
        raise JoinError("not_invited")
    if p.token_version != grant.version:
        raise JoinError("revoked")
    event = db.session.get(Event, grant.event_id)
    if event.status == EventStatus.CANCELLED.value:
        raise JoinError("cancelled")
    if event.ends_at is not None and as_utc(event.ends_at) + AFTER_END_GRACE < now():
        raise JoinError("expired")
    if for_update and event.status not in (EventStatus.SCHEDULED.value, EventStatus.LIVE.value):
        raise JoinError("ended")
    return JoinGrant(event=event, site=db.session.get(Site, grant.subject_id), participation=p)


def revoke(p: Participation, user: User | None) -> str:
    """Invalidate the site's current link and return a new one."""
    p.token_version += 1
    # The site's calendar feed lists its current join links: whoever holds the old feed URL must not
    # read the new link there.
    site = db.session.get(Site, p.site_id)
    site.feed_version += 1
    audit(user, "event.link_revoke", p.event, site_id=p.site_id, version=p.token_version,
          feed_version=site.feed_version)
    db.session.commit()
    site_link_revoked.send(p)
    return join_token(p)


# --- QR codes -----------------------------------------------------------------------------------

def _qr(text: str, box_size: int = 8) -> qrcode.QRCode:
    # A fixed mask (every mask is valid for readers) skips scoring all eight, which is most of the time spent:
    # a printable sheet for 200 sites draws 200 codes.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=2,
                       mask_pattern=2)
    qr.add_data(text)
    qr.make(fit=True)
    return qr


def qr_png(text: str, box_size: int = 8) -> bytes:
    buf = io.BytesIO()
    _qr(text, box_size).make_image().save(buf)
    return buf.getvalue()


@lru_cache(maxsize=4096)
def qr_svg(text: str) -> str:
    """An SVG QR code: the qrcode library's matrix drawn as one path of horizontal runs (qrcode's own SVG
    factories build one XML element per module, ten times slower for a sheet of 200 codes)."""
    matrix = _qr(text).get_matrix()  # includes the border
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{"".join(runs)}"/></svg>')


# --- the printable sheet of every site -----------------------------------------------------------

def sheet_fingerprint(event: Event, **context: Any) -> str:
    """A digest of everything the printable sheet shows: the event, each site's name and link version, and
    the caller's `context` (base URL, language). A revoked link, a renamed site or an added one gives a new
    digest, hence a new storage key: a stored sheet is never stale."""
    digest = hashlib.sha256(json.dumps({
        "event": [event.id, event.title, str(event.starts_at), str(event.ends_at), event.host_site_id,
                  event.status], "context": context}, sort_keys=True, default=str).encode())
    rows = db.session.execute(
        db.select(Participation.site_id, Participation.token_version, Site.code, Site.name, Site.level,
                  Site.room_name).join(Site, Participation.site_id == Site.id)
        .where(Participation.event_id == event.id).order_by(Participation.site_id))
    for row in rows:
        digest.update(json.dumps(list(row)).encode())
    return digest.hexdigest()


def sheet_prefix(event_id: int) -> str:
    return f"events/{event_id}/invitations/"


def sheet_key(event_id: int, fingerprint: str) -> str:
    return f"{sheet_prefix(event_id)}sheet-{fingerprint[:24]}.html"


# --- calendars ----------------------------------------------------------------------------------

def _ics_event(event: Event, *, url: str | None = None, redact: bool = False) -> IcsEvent:
    item = IcsEvent()
    item.add("uid", f"event-{event.id}@diemcau")
    item.add("dtstamp", now())
    item.add("dtstart", as_utc(event.starts_at))
    item.add("dtend", as_utc(event.ends_at))
    item.add("summary", "Cuộc họp mật" if redact else event.title)
    if event.description and not redact:
        item.add("description", event.description)
    host = event.host_site or event.studio_site
    if host is not None:
        item.add("location", host.display_room)
    if url:
        item.add("url", url)
    item.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED.value else "CONFIRMED")
    if event.confidential:
        item.add("class", "CONFIDENTIAL")
    return item


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Diem Cau//diemcau//VI")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Ho_Chi_Minh")
    return cal


def event_ics(event: Event, url: str | None = None) -> bytes:
    cal = _calendar(event.title)
    cal.add_component(_ics_event(event, url=url))
    return cal.to_ical()


def site_feed_ics(site: Site, join_url) -> bytes:
    """Every event the site takes part in, from 30 days ago on; `join_url(participation)` gives each link.
    Confidential events show only as 'Cuộc họp mật' so a leaked feed URL says nothing about them."""
    cal = _calendar(site.name)
    query = (db.select(Participation).join(Event, Participation.event_id == Event.id)
             .where(Participation.site_id == site.id, Event.ends_at > now() - timedelta(days=30))
             .order_by(Event.starts_at))
    for p in db.session.execute(query).scalars():
        cal.add_component(_ics_event(p.event, url=join_url(p), redact=p.event.confidential))
    return cal.to_ical()


def site_feed_token(site: Site) -> str:
    """The key of the site's calendar-feed URL. It names the site's feed version: revoking any of the
    site's join links bumps it, so a leaked feed URL stops handing out the new links."""
    return tokens.sign("feed", 0, site.id, site.feed_version, secret=core.token_secret())


def site_from_feed_token(token: str, site_id: int) -> Site | None:
    """The site whose current feed `token` opens, or None (invalid, expired, another site, revoked)."""
    try:
        grant = tokens.verify(token, max_age_s=FEED_MAX_AGE_S, secret=core.token_secret())
    except tokens.TokenError:
        return None
    if grant.kind != "feed" or grant.subject_id != site_id:
        return None
    site = db.session.get(Site, site_id)
    return site if site is not None and site.feed_version == grant.version else None


# --- documents ----------------------------------------------------------------------------------

OOXML = {"word/": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
         "ppt/": ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
         "xl/": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
ODF = {"application/vnd.oasis.opendocument.text": "odt", "application/vnd.oasis.opendocument.presentation": "odp",
       "application/vnd.oasis.opendocument.spreadsheet": "ods"}


class DocumentError(Exception):
    def __init__(self, code: str):  # empty | too_large | bad_type
        super().__init__(code)
        self.code = code


def sniff_document(data: bytes) -> tuple[str, str]:
    """(kind, content type) judged from the bytes, never from the file name."""
    if data.startswith(b"%PDF-"):
        return "pdf", "application/pdf"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: legacy .doc/.ppt/.xls
        return "office", "application/octet-stream"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
                if "mimetype" in names:
                    mime = z.read("mimetype").decode("ascii", "replace").strip()
                    if mime in ODF:
                        return ODF[mime], mime
                if "[Content_Types].xml" in names:
                    for prefix, found in OOXML.items():
                        if any(n.startswith(prefix) for n in names):
                            return found
        except zipfile.BadZipFile:
            pass
    raise DocumentError("bad_type")


def add_document(event: Event, filename: str, data: bytes, user: User | None) -> EventDocument:
    if not data:
        raise DocumentError("empty")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError("too_large")
    kind, content_type = sniff_document(data)
    safe = storage_safe_name(filename or f"document.{kind}")
    key = f"events/{event.id}/documents/{uuid.uuid4().hex[:12]}-{safe}"
    core.storage().put_bytes(key, data, content_type)
    doc = EventDocument(event_id=event.id, filename=(filename or safe)[-300:], kind=kind, content_type=content_type,
                        storage_key=key, size_bytes=len(data), uploaded_by_id=user.id if user else None)
    db.session.add(doc)
    audit(user, "event.document_add", event, filename=doc.filename, size=len(data))
    db.session.commit()
    return doc


def documents(event: Event) -> list[EventDocument]:
    return list(db.session.execute(db.select(EventDocument).filter_by(event_id=event.id)
                                   .order_by(EventDocument.id)).scalars())


def delete_document(doc: EventDocument, user: User | None) -> None:
    core.storage().delete(doc.storage_key)
    audit(user, "event.document_delete", db.session.get(Event, doc.event_id), filename=doc.filename)
    db.session.delete(doc)
    db.session.commit()
