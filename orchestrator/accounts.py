"""User accounts: the password policy, logins (throttled, audited, hashing bounded), and sessions.

A session (and a remember-me cookie) carries the login id "<user id>.<session version>.<nonce>"
(`User.get_id`). Logging out, changing or resetting the password bumps the user's session version, so
every session and remember-me cookie issued before dies, on every device. The nonce, new at each login,
makes each login's remember-me cookie a new one.
"""
from __future__ import annotations

import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from filelock import FileLock, Timeout
from flask import current_app
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.security import check_password_hash, generate_password_hash

from groundwork.config import Settings
from groundwork.redis_server import redis_url

from . import core
from .db import db
from .models import Role, User, audit

MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
# Wrong passwords allowed per minute, for one account and for one address; the next attempt is refused
# before its password is even hashed, right or wrong.
FAILURES_PER_MINUTE = 10
LOGIN_FAILURE_LIMIT = RateLimitItemPerMinute(FAILURES_PER_MINUTE)
# Password hashing is deliberately slow (scrypt, ~0.1 s of a core). At most HASHING_SLOTS hashes run at once
# on the machine, whichever web process asks (file locks), leaving the other cores to the pages; in each
# process at most HASHING_QUEUE logins hold a thread waiting for a slot, the next ones are refused at once
# ("busy"), so a flood of logins cannot hold every web thread.
HASHING_SLOTS = max(1, (os.cpu_count() or 2) // 2)
HASHING_QUEUE = 2
HASHING_WAIT_S = 3.0
_hashing_queue = threading.BoundedSemaphore(HASHING_QUEUE)


class PasswordPolicyError(ValueError):
    def __init__(self, code: str):  # too_short | common | username
        super().__init__(code)
        self.code = code


class LoginError(Exception):
    def __init__(self, code: str):  # wrong | throttled | busy
        super().__init__(code)
        self.code = code


# --- password policy ----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, username: str = "") -> None:
    """Raise PasswordPolicyError when `password` may not be used."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError("too_short")
    folded = password.lower()
    if username and username.lower() in folded:
        raise PasswordPolicyError("username")
    if folded in common_passwords():
        raise PasswordPolicyError("common")


def initial_password_path(settings: Settings, username: str) -> Path:
    """Where the launcher keeps a generated first password (0600) until its user changes it."""
    return settings.data_dir / "initial_passwords" / username


def _new_password(user: User, password: str) -> None:
    check_password_policy(password, user.username)
    user.set_password(password)
    user.session_version += 1
    initial_password_path(core.settings(), user.username).unlink(missing_ok=True)


def upsert_user(username: str, password: str, *, role: str = Role.SPEAKER.value,
                display_name: str = "") -> tuple[User, bool]:
    """Create a user, or set an existing one's role and password (which ends its sessions)."""
    if role not in {r.value for r in Role}:
        raise ValueError(f"unknown role {role!r}")
    check_password_policy(password, username)
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    created = user is None
    if created:
        user = User(username=username, password_hash="", session_version=1)
        user.set_password(password)
        db.session.add(user)
    else:
        _new_password(user, password)
    user.role = role
    user.display_name = display_name or user.display_name or username
    db.session.commit()
    return user, created


def change_password(user: User, current: str, new: str, address: str = "") -> None:
    """The user's own change: the current password must be right (wrong ones count as failed logins, so a
    stolen session cannot guess it faster than the login form). Ends every session of the user (the caller
    starts a new one for the browser that asked) and removes a kept initial password."""
    limiter = _failure_limiter()
    keys = _failure_keys(user.username, address)
    if _over_limit(limiter, keys) is not None:
        raise LoginError("throttled")
    if not _hash_check(user.password_hash, current):
        for key in keys:
            limiter.hit(LOGIN_FAILURE_LIMIT, "login-failures", *key)
        audit(user, "auth.login_failed", user, username=user.username, address=address,
              reason="wrong_current_password")
        db.session.commit()
        raise LoginError("wrong")
    _new_password(user, new)
    audit(user, "auth.password_change")
    db.session.commit()


# --- sessions -----------------------------------------------------------------------------------

def start_session(user: User) -> str:
    """A login id for a new session of `user` (what Flask-Login stores); see the module docstring."""
    user.login_id = f"{user.id}.{user.session_version}.{secrets.token_urlsafe(12)}"
    return user.login_id


_LOGIN_ID = re.compile(r"([0-9]{1,15})\.([0-9]{1,9})\.[A-Za-z0-9_-]+")


def user_for_login_id(login_id: str) -> User | None:
    """The user a session or remember-me cookie names, if its session version is still current."""
    # The id comes from a cookie: ASCII digits of a size the database holds, or no user at all.
    match = _LOGIN_ID.fullmatch(login_id)
    if match is None:
        return None
    user = db.session.get(User, int(match[1]))
    if user is None or user.session_version != int(match[2]):
        return None
    user.login_id = login_id
    return user


def end_sessions(user: User) -> None:
    """Log the user out everywhere: every session and remember-me cookie issued so far stops working."""
    user.session_version += 1
    audit(user, "auth.logout")
    db.session.commit()


# --- logging in ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


@contextmanager
def _hashing_slot():
    if not _hashing_queue.acquire(blocking=False):
        raise LoginError("busy")
    try:
        folder = core.settings().data_dir / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        slots = [FileLock(folder / f"password-hashing-{i}.lock") for i in range(HASHING_SLOTS)]
        deadline = time.monotonic() + HASHING_WAIT_S
        while True:
            for slot in slots:
                try:
                    slot.acquire(timeout=0)
                except Timeout:
                    continue
                try:
                    yield
                finally:
                    slot.release()
                return
            if time.monotonic() > deadline:
                raise LoginError("busy")
            time.sleep(0.005)
    finally:
        _hashing_queue.release()


def _hash_check(password_hash: str, password: str) -> bool:
    with _hashing_slot():
        return check_password_hash(password_hash, password)


def _failure_limiter() -> MovingWindowRateLimiter:
    app = current_app
    limiter = app.extensions.get("diemcau.login_limiter")
    if limiter is None:
        limiter = MovingWindowRateLimiter(storage_from_string(redis_url(core.settings())))
        app.extensions["diemcau.login_limiter"] = limiter
    return limiter


def _failure_keys(username: str, address: str) -> list[tuple[str, str]]:
    return [("account", username.lower()[:80]), ("address", address or "-")]


# Keys found over the limit, with the time their window frees an attempt: the next refusals of a flood are
# decided in the process, without a round trip to Redis.
_refused_until: dict[tuple[str, str], float] = {}
REFUSED_MEMORY = 10_000


def _over_limit(limiter: MovingWindowRateLimiter, keys: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The first key over its limit (asking Redis, remembered in the process), or None."""
    for key in keys:
        if not limiter.test(LOGIN_FAILURE_LIMIT, "login-failures", *key):
            if len(_refused_until) >= REFUSED_MEMORY:
                _refused_until.clear()
            _refused_until[key] = limiter.get_window_stats(LOGIN_FAILURE_LIMIT, "login-failures", *key).reset_time
            return key
    return None


def forget_login_failures() -> None:
    """Forget every counted wrong password, so throttled accounts and addresses may log in again at once
    (after an attack is over; between tests). Only this process's memory of refusals is cleared."""
    _refused_until.clear()
    _failure_limiter().storage.reset()


def authenticate(username: str, password: str, address: str) -> User:
    """The user whose password this is, or LoginError. Failures are audited and counted per account and per
    address; past FAILURES_PER_MINUTE in a minute on either, attempts are refused without checking."""
    limiter = _failure_limiter()
    keys = _failure_keys(username, address)
    now = time.time()
    if any(_refused_until.get(key, 0.0) > now for key in keys):
        raise LoginError("throttled")  # most guesses of a flood end here: no Redis, no database, no hashing
    over = _over_limit(limiter, keys)
    if over is None:
        with _hashing_slot():
            # Again in the slot: attempts that passed together would otherwise all be hashed.
            over = _over_limit(limiter, keys)
            if over is None:
                user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
                # An unknown name costs the same hash as a known one: the answer time must not tell which exist.
                right = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
                failed = user is None or not right or not user.active
                if failed:
                    for key in keys:
                        limiter.hit(LOGIN_FAILURE_LIMIT, "login-failures", *key)
    if over is not None:
        _refuse_throttled(over, username, address)
    if not failed:
        return user
    reason = "unknown_user" if user is None else "wrong_password" if not right else "inactive"
    audit(None, "auth.login_failed", user, username=username[:80], address=address, reason=reason)
    db.session.commit()
    raise LoginError("wrong")


def _refuse_throttled(key: tuple[str, str], username: str, address: str) -> None:
    """Every wrong password is audited; the attempts refused while an account or address is throttled only
    once a minute for it (the first), so a flood of refused guesses costs no database writes."""
    first = core.redis_connection().set(f"diemcau:login-throttled:{key[0]}:{key[1]}", 1, nx=True, ex=60)
    if first:
        audit(None, "auth.login_failed", username=username[:80], address=address, reason="throttled",
              limit=key[0])
        db.session.commit()
    raise LoginError("throttled")
