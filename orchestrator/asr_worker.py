"""An `asr` worker that loads the Whisper model before taking jobs: `python -m orchestrator.asr_worker QUEUE`.

Jobs run in the worker process itself (rq.SimpleWorker), so the model is loaded once per process,
not per job. Used by `diemcau eval-asr --long` and bench/transcribe.py, which start a few of these
and stop when they are done (SIGTERM: RQ's warm shutdown); a worker idle for `--idle` seconds
(default 600) leaves by itself, so none is left behind if its starter dies.
"""
from __future__ import annotations

import logging
import sys

from rq import SimpleWorker

from transcribe import TranscribeError
from transcribe.engine import load_model_for

from . import (
    core,
    pipeline,  # noqa: F401 (the merge job's stage_finished signal goes to the pipeline)
)
from .core import create_core_app, redis_connection

log = logging.getLogger("diemcau.asr_worker")


def warm_up() -> None:
    """Load the model the chunk jobs (batched decoder) will use now; a missing model is reported by the
    jobs themselves."""
    settings = core.settings()
    try:
        load_model_for("batched", model=settings.whisper_model, device=settings.whisper_device,
                       cpu_threads=settings.whisper_threads, replicas=settings.whisper_replicas)
    except TranscribeError as exc:
        log.warning("Whisper model not loaded: %s", exc)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    idle = 600
    if "--idle" in args:
        at = args.index("--idle")
        idle = int(args[at + 1])
        del args[at : at + 2]
    queues = [a for a in args if not a.startswith("--")] or ["asr"]
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_core_app()
    with app.app_context():
        warm_up()
        worker = SimpleWorker(queues, connection=redis_connection())
        worker.work(max_idle_time=idle, with_scheduler=False, logging_level="WARNING")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
