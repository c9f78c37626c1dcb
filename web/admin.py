"""Admin-only tools: the RQ dashboard (queues, running and failed jobs, retry)."""
from __future__ import annotations

import rq_dashboard
from flask import Flask, abort, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from groundwork.redis_server import redis_url
from orchestrator.core import settings
from orchestrator.policy import is_admin

# rq-dashboard's blueprint is a module-level object shared by every app instance, so the guard is
# attached once, here, rather than per create_app().
dashboard = rq_dashboard.blueprint

# The dashboard's views that change queues or jobs. rq-dashboard accepts GET on requeue-all, so a
# plain link (an <img> on any page an admin opens) would requeue every failed job.
STATE_CHANGING = frozenset({
    "rq_dashboard.delete_job_view", "rq_dashboard.requeue_job_view", "rq_dashboard.requeue_all",
    "rq_dashboard.empty_queue", "rq_dashboard.compact_queue",
})
# rq-dashboard's own script sends this cookie's value as X-CSRFToken on every $.post.
CSRF_COOKIE = "_csrf_token"


@dashboard.before_request
def _admins_only():
    if not current_user.is_authenticated:
        abort(401)
    if not is_admin(current_user):
        abort(403)
    if request.endpoint in STATE_CHANGING and request.method != "POST":
        abort(405)
    # POSTs are checked by CSRFProtect like every other form (the token comes in the X-CSRFToken header).


@dashboard.after_request
def _hand_the_token_to_the_dashboard_script(response):
    if request.method == "GET" and response.mimetype == "text/html":
        response.set_cookie(CSRF_COOKIE, generate_csrf(), path="/admin/rq/", samesite="Strict",
                            secure=settings().public_url.startswith("https://"))
    return response


def init_app(app: Flask) -> None:
    with app.app_context():
        app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url(settings())
    rq_dashboard.web.setup_rq_connection(app)
    app.register_blueprint(dashboard, url_prefix="/admin/rq")
