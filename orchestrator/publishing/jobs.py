"""Old dotted names of the publish queue's RQ entry points, kept for jobs queued by the previous release
under `orchestrator.publishing.jobs.*`; new jobs name the functions declared in publishing.service."""
from __future__ import annotations

from .service import publish_job, unpublish_job

__all__ = ["publish_job", "unpublish_job"]
