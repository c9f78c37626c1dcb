"""The core application: settings, database, migrations, storage and Redis, without any web pages.

Workers, the CLI and the scheduler use it directly; `web.create_app` builds the panel on top of it.
"""
from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, current_app, g, has_request_context
from flask_migrate import Migrate, upgrade
from redis import Redis

from groundwork.config import Options, Settings, load_settings, storage_for
from groundwork.config import options as read_options
from groundwork.redis_server import redis_url
from groundwork.storage import Storage

from . import models  # noqa: F401 (registers every table with the metadata migrations compare against)
from .db import db
from .seed import ensure_builtin_rows

MIGRATIONS_DIR = str(Path(__file__).with_name("migrations"))
migrate = Migrate()
_upgrade_lock = threading.Lock()


def create_core_app(settings: Settings | None = None, name: str = "diemcau") -> Flask:
    settings = settings or load_settings()
    app = Flask(name)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
    )
    app.extensions["diemcau.settings"] = settings
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    return app


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # Web, workers and scheduler share one SQLite file: wait for locks instead of failing.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def ensure_database(app: Flask) -> None:
    """Create or migrate the database to the latest revision (every command does this)."""
    with _upgrade_lock, app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="head")
        ensure_builtin_rows()


def settings() -> Settings:
    return current_app.extensions["diemcau.settings"]


def options() -> Options:
    """The tuning knobs (groundwork.config.options), read once per request: a portal page asks for the
    media base URL once per clip, and reading the environment costs tens of microseconds."""
    if not has_request_context():
        return read_options()
    cached = g.get("diemcau_options")
    if cached is None:
        cached = g.diemcau_options = read_options()
    return cached


def token_secret() -> str:
    """The secret the panel signs and verifies its tokens with (groundwork.tokens takes it explicitly)."""
    return current_app.config["SECRET_KEY"]


def storage() -> Storage:
    app = current_app
    store = app.extensions.get("diemcau.storage")
    if store is None:
        store = storage_for(settings().storage_url)
        app.extensions["diemcau.storage"] = store
    return store


def redis_connection() -> Redis:
    app = current_app
    conn = app.extensions.get("diemcau.redis")
    if conn is None:
        conn = Redis.from_url(redis_url(settings()))
        app.extensions["diemcau.redis"] = conn
    return conn
