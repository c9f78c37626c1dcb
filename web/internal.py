"""The panel's internal API for the media server (docs/live-contract.md).

`POST /internal/events/<id>/recording` — header `X-Diemcau-Internal: <token kind "host", subject 0,
this event>`, JSON `{"storage_key", "duration_s"}` → 201 (created) or 200 (already registered) with
`{"recording_id"}`. No session and no CSRF: the signed token is the credential.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from groundwork.tokens import TokenError, verify
from orchestrator import core
from orchestrator.db import db
from orchestrator.pipeline import UserFacingError
from orchestrator.recordings import register_live_recording

from .extensions import csrf

bp = Blueprint("internal", __name__, url_prefix="/internal")
TOKEN_MAX_AGE_S = 24 * 3600


def _fail(status: int, code: str, message: str):
    return jsonify(error=code, message=message), status


@bp.post("/events/<int:event_id>/recording")
@csrf.exempt
def live_recording(event_id: int):
    try:
        grant = verify(request.headers.get("X-Diemcau-Internal", ""), max_age_s=TOKEN_MAX_AGE_S,
                       secret=core.token_secret())
    except TokenError as exc:
        return _fail(401, f"token_{exc.code}", "internal token missing, invalid or expired")
    if grant.kind != "host" or grant.subject_id not in (0, None) or grant.event_id != event_id:
        return _fail(403, "token_wrong_kind", "this token does not grant the recording hand-off of this event")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("storage_key"), str):
        return _fail(400, "bad_request", 'JSON {"storage_key": str, "duration_s": number} expected')
    duration = body.get("duration_s")
    if duration is not None and (not isinstance(duration, int | float) or duration < 0):
        return _fail(400, "bad_request", "duration_s must be a non-negative number")
    try:
        recording, created = register_live_recording(event_id, body["storage_key"], duration)
    except UserFacingError as exc:
        db.session.rollback()
        status = {"event_not_found": 404, "confidential": 409}.get(exc.code, 400)
        return _fail(status, exc.code, exc.detail or exc.code)
    return jsonify(recording_id=recording.id, created=created), 201 if created else 200
