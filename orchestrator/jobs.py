"""RQ entry points. Workers import these by dotted path; each runs inside the core app context."""
from __future__ import annotations

from functools import cache

from flask import Flask, current_app, has_app_context

from .db import db


@cache
def _core_app() -> Flask:
    """One core app per worker process (or forked work horse), created on first use."""
    from .core import create_core_app

    return create_core_app()


def run_stage(recording_id: int, stage: str) -> dict:
    from .pipeline import run_stage as run

    if has_app_context():
        return _run(run, recording_id, stage)
    with _core_app().app_context():
        return _run(run, recording_id, stage)


def _run(run, recording_id: int, stage: str) -> dict:
    try:
        result = run(recording_id, stage)
        return {"stage": stage, "status": result.status, "app": current_app.name}
    finally:
        db.session.remove()


def reconcile() -> dict:
    from .reconcile import reconcile as do

    with _core_app().app_context():
        try:
            return do()
        finally:
            db.session.remove()
