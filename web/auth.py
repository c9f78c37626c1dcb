"""Log in, log out, language choice."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from orchestrator.db import db
from orchestrator.models import User, audit

from .i18n import LOCALES

bp = Blueprint("auth", __name__)


def roles_required(*roles: str):
    """Allow only users with one of `roles` (admins always pass); others get 403."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
        if user is None or not user.check_password(request.form.get("password", "")) or not user.active:
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", username=username), 401
        login_user(user, remember=bool(request.form.get("remember")))
        audit(user, "auth.login")
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")) or url_for("panel.dashboard"))
    return render_template("auth/login.html", username="")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("portal.home"))


@bp.route("/lang/<code>")
def set_language(code: str):
    if code not in LOCALES:
        abort(404)
    response = redirect(_safe_next(request.args.get("next")) or url_for("portal.home"))
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return response
