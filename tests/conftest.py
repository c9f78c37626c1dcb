"""Shared fixtures: a fresh database on the real PostgreSQL when reachable (CI has it), else SQLite;
a private Redis server per run; a fresh data folder per test session; users per role."""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get("DIEMCAU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS = os.environ.get("DIEMCAU_TEST_REDIS", "")
S3_ACCESS_KEY = "testing-access-key"
S3_SECRET_KEY = "testing-secret-key"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A fresh PostgreSQL database for this run, or a SQLite file when PostgreSQL is not reachable."""
    if _port_open("127.0.0.1", 5432):
        import psycopg

        name = f"diemcau_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        if os.environ.get("CI"):
            pytest.fail("CI must provide PostgreSQL at 127.0.0.1:5432")
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis server of this run's own (DIEMCAU_TEST_REDIS names another one).

    Not the machine's shared Redis on 6379: another test run on the same machine would share its RQ
    queues (its worker takes this run's jobs and runs them against its own database), its pub/sub
    channels (which ignore the database number) and its FLUSHDB at start-up (this run's live events
    vanish mid-test). A private `redis-server` on a free loopback port starts in 15-18 ms here."""
    from redis import Redis

    if TEST_REDIS:
        Redis.from_url(TEST_REDIS).flushdb()
        yield TEST_REDIS
        return
    from groundwork.redis_server import ensure_private_redis, stop_private_redis

    folder = tmp_path_factory.mktemp("redis")
    yield ensure_private_redis(folder)
    stop_private_redis(folder)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def test_env(database_url, redis_url, data_dir) -> dict[str, str]:
    """Environment for this run's app and for the processes the e2e tests start."""
    env = {
        "DIEMCAU_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORAGE_URL": str(data_dir / "storage"),
        "DIEMCAU_X264_PRESET": "ultrafast",
        "DIEMCAU_WHISPER_THREADS": "2",
        "DIEMCAU_MAX_UPLOAD_MB": "50",
    }
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def app(test_env):
    from orchestrator.core import create_core_app
    from web import create_app

    app = create_app()
    app.config.update(TESTING=True)
    # Tests read and write the database in the context of a second app instance, as a worker would:
    # a context pushed on the web app itself would be shared by every test request (g, current_user).
    with create_core_app().app_context():
        yield app


@pytest.fixture(autouse=True)
def _forget_login_failures(request):
    """Wrong passwords of one test (all from the test client's address) must not throttle the next one's login."""
    yield
    if "app" in request.fixturenames:
        from orchestrator.accounts import forget_login_failures

        forget_login_failures()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def make_user(app):
    from orchestrator.accounts import upsert_user

    def make(role: str, password: str = "secret-pass"):
        user, _ = upsert_user(f"{role}-{uuid.uuid4().hex[:6]}", password, role=role)
        return user
    return make


def login(client, user, password: str = "secret-pass"):
    """Log in through the real form (CSRF included) and return the CSRF token for later posts."""
    import re

    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    response = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.data[:500]
    return token


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


def run_worker_burst(app, queues=("media", "asr", "publish", "default")) -> None:
    """Run every queued job (and the jobs they enqueue) in this process, like a worker would."""
    from rq import SimpleWorker

    from orchestrator.core import redis_connection

    with app.app_context():
        SimpleWorker(list(queues), connection=redis_connection()).work(burst=True, with_scheduler=False)


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 HTTP server on a free loopback port: a real S3 endpoint, not patched boto3 calls."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
