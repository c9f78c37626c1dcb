from __future__ import annotations

from flask import session
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, user_loaded_from_cookie
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to open this page.")
login_manager.login_message_category = "warning"
# A session or remember-me cookie replayed from another address or browser is dropped.
login_manager.session_protection = "strong"


@user_loaded_from_cookie.connect
def bind_restored_session(app, user) -> None:
    """A session restored from the remember-me cookie gets the browser's identifier, as a login does:
    Flask-Login leaves it out, and strong protection would then end the session at the next request."""
    session["_id"] = login_manager._session_identifier_generator()


@login_manager.user_loader
def load_user(login_id: str):
    from orchestrator.accounts import user_for_login_id

    return user_for_login_id(login_id)
