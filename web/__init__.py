"""The Flask app: panel, portal, auth, admin. Thin: it calls `orchestrator` for everything."""
from __future__ import annotations

from flask import Flask

from orchestrator.config import Settings
from orchestrator.core import create_core_app, ensure_database

from .extensions import babel, csrf, login_manager


def create_app(settings: Settings | None = None) -> Flask:
    app = create_core_app(settings, name=__name__)
    ensure_database(app)
    app.config.update(
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: long uploads must not expire it
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        BABEL_DEFAULT_LOCALE="vi",
        BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh",
    )
    from .i18n import compile_translations, select_locale, select_timezone

    compile_translations()
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    login_manager.init_app(app)

    from . import admin, auth, errors, files, panel, portal

    app.register_blueprint(auth.bp)
    app.register_blueprint(panel.bp)
    app.register_blueprint(panel.api)
    app.register_blueprint(portal.bp)
    app.register_blueprint(files.bp)
    admin.init_app(app)
    errors.init_app(app)
    from .templating import init_app as init_templating

    init_templating(app)
    return app
