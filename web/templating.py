"""Template helpers: local times, sizes, durations, the current locale."""
from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from orchestrator.policy import allows

from .i18n import script_catalogue


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(round(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def filesize(n: int | None) -> str:
    if not n:
        return "0 B"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def local_time(value: datetime | None, fmt: str = "short") -> str:
    return format_datetime(value, fmt) if value else "–"


def init_app(app: Flask) -> None:
    from .messages import status_label

    app.jinja_env.filters.update(duration=duration, filesize=filesize, local_time=local_time,
                                 status_label=status_label)
    app.jinja_env.globals.update(current_locale=lambda: str(get_locale()), can=can,
                                 script_catalogue=script_catalogue)


def can(action: str, obj, subject: str | None = None) -> bool:
    """Templates ask the policy what the current user may do: {% if can('edit', recording) %}."""
    return allows(current_user, action, obj, subject)
