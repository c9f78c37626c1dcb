"""Rows the system needs to exist (the built-in portal channel), created idempotently."""
from __future__ import annotations

from .db import db
from .models import Channel


def ensure_builtin_rows() -> None:
    if db.session.execute(db.select(Channel).filter_by(kind="portal")).scalar_one_or_none() is None:
        db.session.add(Channel(kind="portal", name="Cổng thông tin", enabled=True))
        db.session.commit()


def portal_channel() -> Channel:
    return db.session.execute(db.select(Channel).filter_by(kind="portal")).scalar_one()
