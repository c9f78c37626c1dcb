"""Log in, log out, change one's password, language choice."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import COOKIE_NAME, current_user, login_required, login_user, logout_user

from orchestrator.accounts import (
    MIN_PASSWORD_LENGTH,
    LoginError,
    PasswordPolicyError,
    authenticate,
    change_password,
    end_sessions,
    start_session,
)
from orchestrator.db import db
from orchestrator.models import audit
from orchestrator.policy import Action, Subject, allows, holds_role

from .i18n import LOCALES

bp = Blueprint("auth", __name__)


def roles_required(*roles: str):
    """Coarse page access for pages about no single object: users holding one of `roles` (admins hold
    every role, orchestrator.policy.holds_role); others get 403."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not holds_role(current_user, *roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def permission_required(action: Action, kind: type, subject: Subject | None = None):
    """Coarse page access asked of the policy before the object is loaded: 403 for users whose role
    may never do `action` to a `kind` (the view then asks about its object with `authorize`)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not allows(current_user, action, kind, subject):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def authorize(action: Action, obj, subject: Subject | None = None):
    """`obj` if the current user may do `action` to it; 404 if they may not even see it (whether
    someone else's object exists is not confirmed), 403 if they may see it but not do this."""
    if obj is None or not allows(current_user, Action.VIEW, obj, subject):
        abort(404)
    if not allows(current_user, action, obj, subject):
        abort(403)
    return obj


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


def login_error_message(code: str) -> str:
    return {
        "wrong": _("Wrong username or password."),
        "throttled": _("Too many wrong passwords for this account or from this address. Wait a minute, "
                       "then try again."),
        "busy": _("Too many people are logging in right now. Try again in a moment."),
    }[code]


def _start_session(user, *, remember: bool) -> None:
    start_session(user)
    login_user(user, remember=remember)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            user = authenticate(username, request.form.get("password", ""), request.remote_addr or "")
        except LoginError as exc:
            if exc.code != "wrong":
                return render_template("auth/refused.html", message=login_error_message(exc.code)), 429
            flash(login_error_message(exc.code), "error")
            return render_template("auth/login.html", username=username), 401
        _start_session(user, remember=bool(request.form.get("remember")))
        audit(user, "auth.login")
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")) or url_for("panel.dashboard"))
    return render_template("auth/login.html", username="")


@bp.post("/logout")
@login_required
def logout():
    end_sessions(current_user._get_current_object())
    logout_user()
    return redirect(url_for("portal.home"))


def password_policy_message(code: str) -> str:
    return {
        "too_short": _("The new password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
        "common": _("This password is one of the most used ones; choose another."),
        "username": _("The password must not contain the username."),
    }[code]


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password_page():
    if request.method == "GET":
        return render_template("auth/password.html", min_length=MIN_PASSWORD_LENGTH)
    new = request.form.get("new_password", "")
    user = current_user._get_current_object()
    error, status = None, 400
    if new != request.form.get("confirm_password", ""):
        error = _("The two new passwords differ.")
    else:
        try:
            change_password(user, request.form.get("current_password", ""), new, request.remote_addr or "")
        except LoginError as exc:
            error, status = (_("The current password is wrong."), 400) if exc.code == "wrong" else \
                (login_error_message(exc.code), 429)
        except PasswordPolicyError as exc:
            error = password_policy_message(exc.code)
    if error:
        flash(error, "error")
        return render_template("auth/password.html", min_length=MIN_PASSWORD_LENGTH), status
    # Every other session of the user has ended; this browser gets a new one (and a new remember-me cookie).
    _start_session(user, remember=current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies)
    flash(_("Your password was changed. You were logged out everywhere else."), "success")
    return redirect(url_for("panel.dashboard"))


@bp.route("/lang/<code>")
def set_language(code: str):
    if code not in LOCALES:
        abort(404)
    response = redirect(_safe_next(request.args.get("next")) or url_for("portal.home"))
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return response
