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


@login_manager.user_loader
def load_user(user_id: str):
    from orchestrator.db import db
    from orchestrator.models import User

    from .input_guard import db_int

    # The id comes from the session cookie: anything but a database integer is no user, not a 500.
    try:
        return db.session.get(User, db_int(user_id))
    except (TypeError, ValueError):
        return None
