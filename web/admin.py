"""Admin-only tools: the RQ dashboard (queues, running and failed jobs, retry)."""
from __future__ import annotations

import rq_dashboard
from flask import Flask, abort, request
from flask_login import current_user

from orchestrator.core import settings
from orchestrator.redis_server import redis_url

from .extensions import csrf

# rq-dashboard's blueprint is a module-level object shared by every app instance, so the guard is
# attached once, here, rather than per create_app().
dashboard = rq_dashboard.blueprint


@dashboard.before_request
def _admins_only():
    if not current_user.is_authenticated:
        abort(401)
    if not current_user.has_role("admin"):
        abort(403)
    # rq-dashboard's jQuery posts carry no CSRF token; they do carry X-Requested-With, which a
    # cross-site form cannot set, so requiring it keeps the retry/delete buttons CSRF-safe.
    if request.method == "POST" and request.headers.get("X-Requested-With") != "XMLHttpRequest":
        abort(400)


csrf.exempt(dashboard)


def init_app(app: Flask) -> None:
    with app.app_context():
        app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url(settings())
    rq_dashboard.web.setup_rq_connection(app)
    app.register_blueprint(dashboard, url_prefix="/admin/rq")
