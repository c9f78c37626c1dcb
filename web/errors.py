"""Errors as pages (or JSON for API calls) in the user's language: never a stack trace."""
from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from .messages import error_message


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json" \
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"


def error_response(status: int, message: str, code: str | None = None):
    if wants_json():
        return jsonify({"error": code or str(status), "message": message}), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_exc):
        return error_response(400, _("The form has expired. Reload the page and try again."), "csrf")

    @app.errorhandler(413)
    def too_large(_exc):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return error_response(413, error_message("too_large") + " " + _("Limit: %(mb)s MB.", mb=limit_mb),
                              "too_large")

    def queue_unavailable(exc):
        app.logger.warning("Redis unreachable: %s", exc)
        response = make_response(error_response(503, _("The job and live service is restarting. Wait a few "
                                                        "seconds and reload the page."), "unavailable"))
        response.headers["Retry-After"] = "5"
        return response

    app.register_error_handler(RedisConnectionError, queue_unavailable)
    app.register_error_handler(RedisTimeoutError, queue_unavailable)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {
            401: _("Please log in to open this page."),
            403: _("You do not have permission to open this page."),
            404: _("This page does not exist."),
            410: _("This link has expired. Open the page again to get a new one."),
        }
        return error_response(exc.code or 500, messages.get(exc.code, exc.description or ""))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(500, error_message("internal"), "internal")
