"""Errors as pages (or JSON for API calls) in the user's language: never a stack trace.

The handlers must work when the request itself is what broke: a database transaction already failed
(the session is rolled back first), or loading the user or the page fails again while rendering (then
a minimal page made without the database, the session or the templates is sent)."""
from __future__ import annotations

from contextlib import suppress

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from .input_guard import BadInput
from .messages import error_message

# The last resort, for when even translating fails: Vietnamese unless the visitor chose English.
BARE_MESSAGES = {
    "vi": ("Lỗi", "Đã xảy ra lỗi. Vui lòng tải lại trang hoặc thử lại sau.", "Về trang chủ"),
    "en": ("Error", "An error occurred. Reload the page or try again later.", "Back to the home page"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json" \
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"


def error_response(status: int, message: str, code: str | None = None):
    if wants_json():
        return jsonify({"error": code or str(status), "message": message}), status
    return render_template("errors/error.html", status=status, message=message), status


def bare_response(status: int) -> Response:
    """An error answer that touches neither the database, the session, Babel nor the templates."""
    lang = "en" if request.cookies.get("lang") == "en" else "vi"
    title, message, home = BARE_MESSAGES[lang]
    if request.path.startswith("/api/"):
        import json

        return Response(json.dumps({"error": str(status), "message": message}, ensure_ascii=False), status,
                        mimetype="application/json")
    page = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{status} · Điểm Cầu</title>'
            f'</head><body><h1>{title} {status}</h1><p>{escape(message)}</p><p><a href="/">{home}</a></p>'
            "</body></html>")
    return Response(page, status, mimetype="text/html")


def _rollback() -> None:
    from orchestrator.db import db

    with suppress(Exception):  # the connection itself may be gone; the page must still go out
        db.session.rollback()


def safe(build):
    """Run a handler; if it fails too (a broken session, the database down), answer the bare page."""
    def handler(exc):
        try:
            return build(exc)
        except Exception:  # noqa: BLE001
            from flask import current_app

            current_app.logger.exception("the error handler failed too")
            _rollback()
            status = getattr(exc, "code", None) or 500
            return bare_response(status if isinstance(status, int) else 500)
    handler.__name__ = build.__name__
    return handler


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    @safe
    def csrf_error(_exc):
        return error_response(400, _("The form has expired. Reload the page and try again."), "csrf")

    @app.errorhandler(BadInput)
    @safe
    def bad_input(exc: BadInput):
        _rollback()
        return error_response(400, exc.description, exc.code_name)

    @app.errorhandler(413)
    @safe
    def too_large(_exc):
        limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
        limit_mb = max(1, limit // (1024 * 1024))
        message = _("The data sent is too large.")
        from flask import current_app

        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if getattr(view, "accepts_upload", False):
            message = error_message("too_large")
        return error_response(413, message + " " + _("Limit: %(mb)s MB.", mb=limit_mb), "too_large")

    def queue_unavailable(exc):
        app.logger.warning("Redis unreachable: %s", exc)
        response = make_response(error_response(503, _("The job and live service is restarting. Wait a few "
                                                        "seconds and reload the page."), "unavailable"))
        response.headers["Retry-After"] = "5"
        return response

    app.register_error_handler(RedisConnectionError, queue_unavailable)
    app.register_error_handler(RedisTimeoutError, queue_unavailable)

    @app.errorhandler(HTTPException)
    @safe
    def http_error(exc: HTTPException):
        messages = {
            400: _("The request could not be understood. Check what you entered and try again."),
            401: _("Please log in to open this page."),
            403: _("You do not have permission to open this page."),
            404: _("This page does not exist."),
            405: _("This action is not allowed here."),
            410: _("This link has expired. Open the page again to get a new one."),
            413: _("The data sent is too large."),
            415: _("This kind of data is not accepted here."),
        }
        status = exc.code or 500
        return error_response(status, messages.get(status, _("The request could not be completed.")))

    @app.errorhandler(Exception)
    @safe
    def internal_error(exc: Exception):
        app.logger.exception("unhandled error")
        _rollback()
        return error_response(500, error_message("internal"), "internal")
