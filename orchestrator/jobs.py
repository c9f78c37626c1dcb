"""Old dotted names of RQ entry points, kept for jobs queued by the previous release under
`orchestrator.jobs.*`; new jobs name the function declared with `@runtime.job`."""
from __future__ import annotations

from .pipeline import run_stage_job as run_stage

__all__ = ["run_stage"]
