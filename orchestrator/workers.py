"""The RQ workers `diemcau worker` runs, tuned so a dead worker is noticed within seconds.

RQ's defaults let a SIGKILLed worker look alive for up to ~16 minutes (its key's TTL plus the
started-job registry's). Here every worker sends a heartbeat at least every HEARTBEAT_S, busy or
idle, and the reconciler (orchestrator.reconcile) takes a worker whose last heartbeat is older than
DEAD_AFTER_S for dead. A work horse dies with its worker, and its ffmpeg with it
(media.parentdeath), so the re-queued job never runs beside a survivor of the first attempt.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker

from media.parentdeath import die_with_parent

log = logging.getLogger(__name__)

HEARTBEAT_S = 5
# RQ listens for WORKER_TTL_S - 15 s between heartbeats while idle: 5 s.
WORKER_TTL_S = HEARTBEAT_S + 15
DEAD_AFTER_S = 4 * HEARTBEAT_S
MAINTENANCE_INTERVAL_S = 60
# Seconds between reconnection attempts while Redis is away (RQ's default grows to 60 s).
RECONNECT_MAX_WAIT_S = 2.0

WORKER_OPTIONS = {"worker_ttl": WORKER_TTL_S, "job_monitoring_interval": HEARTBEAT_S,
                  "maintenance_interval": MAINTENANCE_INTERVAL_S}


class ForkingWorker(Worker):
    """Forks a work horse per job (ffmpeg and publishing jobs); the horse dies with the worker."""

    max_connection_wait_time = RECONNECT_MAX_WAIT_S

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        die_with_parent()
        super().main_work_horse(job, queue)


class InProcessWorker(SimpleWorker):
    """Runs jobs in the worker process (Whisper stays loaded). A thread keeps the worker's and the
    job's heartbeats going during a job, as a forking worker's main process does; RQ's SimpleWorker
    sends none and lets its started jobs look alive for their whole timeout plus a minute."""

    max_connection_wait_time = RECONNECT_MAX_WAIT_S
    get_heartbeat_ttl = BaseWorker.get_heartbeat_ttl  # a minute past the last heartbeat, not past the timeout

    def execute_job(self, job: Job, queue: Queue) -> None:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_S):
                # Redis away, or the job finishing meanwhile (its execution record gone): next beat.
                with contextlib.suppress(RedisError, AttributeError):
                    self.maintain_heartbeats(job)

        thread = threading.Thread(target=beat, name="rq-heartbeat", daemon=True)
        thread.start()
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            thread.join()


def make_worker(queues: list[str], connection: Redis, in_process: bool) -> Worker:
    cls = InProcessWorker if in_process else ForkingWorker
    return cls(queues, connection=connection, **WORKER_OPTIONS)


def worker_is_alive(worker_name: str, connection: Redis, now: datetime | None = None) -> bool:
    """Whether the RQ worker of this name has sent a heartbeat in the last DEAD_AFTER_S."""
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=connection)
    if worker is None or worker.death_date is not None:
        return False
    last = worker.last_heartbeat
    if last is None:
        return False
    last = last if last.tzinfo else last.replace(tzinfo=UTC)
    return (now or datetime.now(UTC)) - last <= timedelta(seconds=DEAD_AFTER_S)


def wait_for_redis(connection: Redis, what: str, max_wait_s: float = RECONNECT_MAX_WAIT_S) -> None:
    """Block until Redis answers, retrying with a capped backoff: a process started (or restarted by
    its supervisor) while Redis is away waits for it instead of failing its start."""
    delay = 0.1
    while True:
        try:
            connection.ping()
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("%s: Redis is not reachable (%s); retrying in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_wait_s)
