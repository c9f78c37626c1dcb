from __future__ import annotations

from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to open this page.")
login_manager.login_message_category = "warning"
# A session or remember-me cookie replayed from another address or browser is dropped.
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(login_id: str):
    from orchestrator.accounts import user_for_login_id

    return user_for_login_id(login_id)
