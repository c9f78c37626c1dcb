"""Links the panel hands out to the rooms."""
from __future__ import annotations

from flask import url_for

from orchestrator.invitations import join_token
from orchestrator.models import Participation


def join_url(p: Participation, external: bool = True) -> str:
    """A site's join link for one event (the token in it is the key: signed, versioned, revocable)."""
    return url_for("join.page", event_id=p.event_id, site_id=p.site_id, token=join_token(p), _external=external)
