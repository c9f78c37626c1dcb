"""A job for tests/orchestrator/test_jobs.py, in a module that imports no feature: run by a real worker, it
reports which signal receivers that worker's process has connected."""
from __future__ import annotations

from orchestrator import runtime


@runtime.job("default", timeout=60)
def stage_finished_receivers() -> list[str]:
    return sorted(f"{fn.__module__}.{fn.__qualname__}" for fn in runtime.stage_finished.receivers_for(0))
