"""User accounts."""
from __future__ import annotations

from .db import db
from .models import Role, User


def upsert_user(username: str, password: str, *, role: str = Role.SPEAKER.value,
                display_name: str = "") -> tuple[User, bool]:
    if role not in {r.value for r in Role}:
        raise ValueError(f"unknown role {role!r}")
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    created = user is None
    if created:
        user = User(username=username, password_hash="")
        db.session.add(user)
    user.role = role
    user.display_name = display_name or user.display_name or username
    user.set_password(password)
    db.session.commit()
    return user, created
