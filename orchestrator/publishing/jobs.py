"""RQ entry points of the publish queue (workers import them by dotted path)."""
from __future__ import annotations

from flask import has_app_context

from ..db import db


def _in_app(func, *args):
    if has_app_context():
        try:
            return func(*args)
        finally:
            db.session.remove()
    from ..jobs import _core_app

    with _core_app().app_context():
        try:
            return func(*args)
        finally:
            db.session.remove()


def publish_job(publication_id: int) -> dict:
    from .service import run_publication

    return _in_app(run_publication, publication_id)


def unpublish_job(publication_id: int) -> dict:
    from .service import run_unpublish

    return _in_app(run_unpublish, publication_id)
