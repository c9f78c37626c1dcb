"""The live contract: the Redis names and values through which the panel drives a live event and the
media server follows it (docs/live-contract.md).

The panel writes the event's hash (status, confidential, floor, title, discard) and its token versions,
and announces every change on one channel; the media server reads them and reports site states on the
event's wall channel. Every key, channel, field and encoding is spelled here and nowhere else, for the
synchronous (panel) and the asyncio (media server) Redis clients alike: this module only names and parses.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENTS_CHANNEL = "diemcau:events"   # {"event_id", "type": started|stopped|floor|revoked, ...}
HOST_FLOOR = "host"                 # the floor of the host studio; a site's is "site:<id>"


def event_key(event_id: int) -> str:
    """The event's hash: status, confidential, floor, title, discard."""
    return f"diemcau:event:{event_id}"


def versions_key(event_id: int) -> str:
    """The hash of token versions in force: `<kind>:<subject>` → version (absent: version 1)."""
    return f"diemcau:event:{event_id}:token_versions"


def sites_key(event_id: int) -> str:
    """The hash of the latest reported state of each site: site id → JSON."""
    return f"diemcau:event:{event_id}:sites"


def meta_key(event_id: int) -> str:
    """The panel's short-lived cache of {status, ends_at} for the join pages' reports."""
    return f"diemcau:event:{event_id}:meta"


def wall_channel(event_id: int) -> str:
    """Site state changes, as the operations wall draws them."""
    return f"diemcau:wall:{event_id}"


def version_field(kind: str, subject_id: int | None) -> str:
    return f"{kind}:{subject_id or 0}"


def site_floor(site_id: int) -> str:
    return f"site:{site_id}"


def floor_site_id(floor: str) -> int:
    """The site id of a site's floor ("site:<id>", or the bare id a form sends); ValueError otherwise."""
    return int(floor.removeprefix("site:"))


def _flag(value: bool) -> str:
    return "1" if value else "0"


def state_fields(*, status: str | None = None, confidential: bool | None = None, floor: str | None = None,
                 title: str | None = None, discard: bool | None = None) -> dict[str, str]:
    """The fields to write into the event's hash (those given), encoded as the media server reads them."""
    fields = {"status": status, "confidential": None if confidential is None else _flag(confidential),
              "floor": floor, "title": title, "discard": None if discard is None else _flag(discard)}
    return {name: value for name, value in fields.items() if value is not None}


def event_message(event_id: int, type_: str, **extra: Any) -> str:
    """A message for EVENTS_CHANNEL."""
    return json.dumps({"event_id": event_id, "type": type_, **extra})


def parse_event_message(data: str | bytes) -> tuple[int, dict[str, Any]] | None:
    """(event id, message) of an EVENTS_CHANNEL message, None when it is not one."""
    try:
        message = json.loads(data)
        return int(message["event_id"]), message
    except (ValueError, KeyError, TypeError):
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


@dataclass(frozen=True)
class EventState:
    event_id: int
    status: str
    confidential: bool
    floor: str
    title: str
    discard: bool = False      # a report take the speaker threw away (re-take): never handed off

    @property
    def live(self) -> bool:
        return self.status == "live"


def parse_state(event_id: int, raw: Mapping[Any, Any]) -> EventState:
    """The event's hash (as HGETALL returns it, bytes or str) as an EventState."""
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return EventState(event_id=event_id, status=fields.get("status", ""),
                      confidential=fields.get("confidential") == "1", floor=fields.get("floor") or HOST_FLOOR,
                      title=fields.get("title", ""), discard=fields.get("discard") == "1")


def parse_floor(value: Any) -> str:
    """The floor field as HGET returns it (None when unset)."""
    return _text(value) or HOST_FLOOR


def parse_version(value: Any) -> int:
    """A token version as HGET returns it; none stored means version 1."""
    return int(_text(value)) if value not in (None, b"", "") else 1
