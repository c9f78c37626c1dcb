"""Real media server processes on loopback, real Redis state as the panel writes it, aiortc clients."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from groundwork import live_contract as contract

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))   # `tests.media_server.live_clients` under any invocation
ARTIFACTS = REPO_ROOT / "test-artifacts"

# Small renditions keep the suite fast on 2 cores; nothing tested here depends on the resolution.
LIVE_ENV = {
    "DIEMCAU_ICE_HOSTS": "127.0.0.1",
    "DIEMCAU_LIVE_RENDITIONS": "640x360@800,320x180@250",
    "DIEMCAU_LIVE_FPS": "25",
    "DIEMCAU_LIVE_PEER_TIMEOUT_S": "4",
    "DIEMCAU_LIVE_CONNECT_TIMEOUT_S": "10",
    "DIEMCAU_LIVE_STATE_INTERVAL_S": "0.5",
    "DIEMCAU_LIVE_SEGMENT_S": "1",
}
os.environ.setdefault("DIEMCAU_ICE_HOSTS", "127.0.0.1")   # aiortc clients in the test process too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MediaServerProcess:
    def __init__(self, env: dict[str, str], args: list[str], log_name: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.args, self.log_name = env, args, log_name
        self.proc: subprocess.Popen | None = None

    def start(self) -> MediaServerProcess:
        ARTIFACTS.mkdir(exist_ok=True)
        log = open(ARTIFACTS / self.log_name, "a")  # noqa: SIM115 (the server writes to it until it stops)
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("diemcau")), "media-server", "--port", str(self.port), *self.args],
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"media server did not start; see {ARTIFACTS / self.log_name}")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        """The end of this server's log, for a failing assertion to show."""
        return (ARTIFACTS / self.log_name).read_text(errors="replace")[-chars:]

    def rooms(self) -> dict:
        return requests.get(self.url + "/rooms", timeout=5).json()


@pytest.fixture(scope="session")
def live_env(test_env) -> dict[str, str]:
    return {**os.environ, **test_env, **LIVE_ENV, "DIEMCAU_PANEL_INTERNAL_URL": "http://127.0.0.1:9/none"}


@pytest.fixture
def media_servers(live_env):
    """Factory: start media servers (origin or relay); all are stopped after the test."""
    started: list[MediaServerProcess] = []

    def start(args: list[str] | None = None, env: dict[str, str] | None = None,
              log_name: str = "media-server.log") -> MediaServerProcess:
        server = MediaServerProcess({**live_env, **(env or {})}, args or [], log_name).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class LiveEvent:
    """An event as the panel's live.py leaves it in Redis (docs/live-contract.md)."""

    def __init__(self, redis, secret: str, event_id: int):
        self.redis, self.secret, self.id = redis, secret, event_id

    def set(self, **fields) -> None:
        self.redis.hset(contract.event_key(self.id), mapping=contract.state_fields(**fields))

    def start(self, confidential: bool = False, floor: str = contract.HOST_FLOOR) -> LiveEvent:
        self.set(status="live", confidential=confidential, floor=floor, title=f"Test {self.id}")
        self.redis.publish(contract.EVENTS_CHANNEL, contract.event_message(self.id, "started"))
        return self

    def stop(self) -> None:
        self.set(status="ended")
        self.redis.publish(contract.EVENTS_CHANNEL, contract.event_message(self.id, "stopped"))

    def give_floor(self, floor: str) -> None:
        self.set(floor=floor)
        self.redis.publish(contract.EVENTS_CHANNEL, contract.event_message(self.id, "floor", floor=floor))

    def token(self, kind: str, subject: int = 0, version: int = 1, event_id: int | None = None) -> str:
        from groundwork.tokens import sign

        return sign(kind, event_id or self.id, subject, version, secret=self.secret)

    def revoke(self, kind: str, subject: int, version: int) -> None:
        self.redis.hset(contract.versions_key(self.id), contract.version_field(kind, subject), version)
        self.redis.publish(contract.EVENTS_CHANNEL, contract.event_message(self.id, "revoked"))


@pytest.fixture
def live_event(test_env):
    from redis import Redis

    from groundwork.config import load_settings

    redis = Redis.from_url(test_env["REDIS_URL"])
    created = []

    def make(**kwargs) -> LiveEvent:
        event = LiveEvent(redis, load_settings().secret_key, random.randint(100_000, 900_000))
        created.append(event)
        return event.start(**kwargs)

    yield make
    for event in created:
        redis.delete(contract.event_key(event.id), contract.versions_key(event.id))
