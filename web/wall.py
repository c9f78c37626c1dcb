"""The live operations wall: every participating site as a tile, updates pushed by Server-Sent Events.

gunicorn runs gthread workers, so one open stream holds one thread: the stream does no database work
(the snapshot is read before it starts), batches Redis messages into one SSE frame every 250 ms, sends a
heartbeat every 3 s (a closed browser is noticed when that write fails) and ends after a few minutes; the browser's
EventSource reconnects by itself and gets a fresh snapshot.
"""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, render_template
from flask_login import current_user

from groundwork.live_contract import EVENTS_CHANNEL, wall_channel
from orchestrator import core
from orchestrator.live import wall_snapshot

from .auth import roles_required
from .events import event_or_404, state_labels
from .messages import level_label

bp = Blueprint("wall", __name__)
BATCH_S = 0.25
HEARTBEAT_S = 3.0
MAX_STREAM_S = 300.0
WALL_PAGE_SIZE = 500   # tiles drawn at once; an event with more sites gets a pager on its wall


@bp.get("/events/<int:event_id>/wall")
@roles_required("technician")
def page(event_id: int):
    event = event_or_404(event_id, manage=True)
    return render_template("wall/wall.html", event=event, state_labels=state_labels(), level_label=level_label,
                           user=current_user, page_size=WALL_PAGE_SIZE)


@bp.get("/events/<int:event_id>/wall/stream")
@roles_required("technician")
def stream(event_id: int):
    event = event_or_404(event_id, manage=True)
    pubsub = core.redis_connection().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wall_channel(event.id), EVENTS_CHANNEL)  # before the snapshot: nothing falls in between
    snapshot = wall_snapshot(event, limit=WALL_PAGE_SIZE)  # a big event's wall asks the API for its other pages
    events_channel = EVENTS_CHANNEL.encode()

    def frames():
        try:
            yield f"retry: 2000\nevent: snapshot\ndata: {json.dumps(snapshot)}\n\n"
            started = last_frame = time.monotonic()
            batch: list[dict] = []
            batch_started = 0.0
            while time.monotonic() - started < MAX_STREAM_S:
                message = pubsub.get_message(timeout=BATCH_S if batch else 1.0)
                now = time.monotonic()
                if message is not None and message.get("type") == "message":
                    try:
                        data = json.loads(message["data"])
                    except ValueError:
                        data = None
                    if isinstance(data, dict):
                        if message["channel"] == events_channel:
                            if data.get("event_id") == event.id:
                                yield f"event: status\ndata: {json.dumps(data)}\n\n"
                                last_frame = now
                        elif "site_id" in data:
                            if not batch:
                                batch_started = now
                            batch.append(data)
                if batch and (now - batch_started >= BATCH_S or len(batch) >= 500):
                    yield f"event: update\ndata: {json.dumps({'t': time.time(), 'items': batch})}\n\n"
                    batch, last_frame = [], now
                elif now - last_frame >= HEARTBEAT_S:
                    yield f"event: tick\ndata: {json.dumps({'t': time.time()})}\n\n"
                    last_frame = now
        finally:
            pubsub.close()

    # No stream_with_context: the request (and its database session) ends here; the stream needs neither.
    return Response(frames(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
