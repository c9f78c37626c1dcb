"""The Flask app: panel, portal, auth, admin. Thin: it calls `orchestrator` for everything."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from groundwork.config import Settings
from orchestrator.core import create_core_app, ensure_database

from .extensions import babel, csrf, login_manager


def create_app(settings: Settings | None = None) -> Flask:
    app = create_core_app(settings, name=__name__)
    ensure_database(app)
    settings = app.extensions["diemcau.settings"]
    secure = settings.public_url.startswith("https://")
    if settings.proxy_hops:
        # Behind nginx the client's address (login throttling, audit) is in X-Forwarded-For, set by the proxy.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.config.update(
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: long uploads must not expire it
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        BABEL_DEFAULT_LOCALE="vi",
        BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh",
    )
    from . import input_guard

    input_guard.init_app(app)  # before CSRF: the body limit is per route, and CSRF reads the form
    from .i18n import compile_translations, select_locale, select_timezone

    compile_translations()
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    login_manager.init_app(app)

    from . import admin, auth, errors, files, panel, portal

    app.register_blueprint(auth.bp)
    app.register_blueprint(panel.bp)
    app.register_blueprint(panel.api)
    from . import search  # portal search over transcript moments (the portal links to it)

    app.register_blueprint(search.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(files.bp)
    from . import api_events, events, join, sites, wall  # scheduling, invitations, join page, live wall

    for blueprint in (events.bp, sites.bp, join.bp, wall.bp, api_events.bp):
        app.register_blueprint(blueprint)
    from . import channels, publish, speaker  # publishing channels, editor approval, speakers' downloads

    for blueprint in (channels.bp, publish.bp, speaker.bp):
        app.register_blueprint(blueprint)
    from . import internal, studio  # studio pages, the media server's recording hand-off

    for blueprint in (studio.bp, internal.bp):
        app.register_blueprint(blueprint)
    from . import trim  # trimming, social cuts, stopping media jobs

    trim.init_app(app)
    from . import editor  # the transcript editor

    app.register_blueprint(editor.bp)
    admin.init_app(app)
    errors.init_app(app)
    from . import security_headers

    security_headers.init_app(app)
    from .templating import init_app as init_templating

    init_templating(app)
    return app
