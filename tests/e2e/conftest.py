"""Real processes for browser tests: the production web server (gunicorn), an RQ worker, and
Debian's Chromium driven by Playwright (no browser download: executable_path=/usr/bin/chromium)."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DIEMCAU_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.fixture(scope="session")
def live_server(app, test_env):
    """gunicorn running web:create_app() against this run's database, Redis and storage."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "gunicorn.log", "w")  # noqa: SIM115 (the server writes to it until teardown)
    proc = subprocess.Popen([_bin("gunicorn"), "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                             "web:create_app()"], cwd=REPO_ROOT,
                            # as behind one nginx: a browser may say which client address it stands for
                            env={**os.environ, **test_env, "DIEMCAU_PROXY_HOPS": "1"},
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(url + "/login", timeout=2).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or still importing the app
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"web server did not start; see {log.name}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(10)


def _drop_queued_jobs(redis_url: str) -> None:
    """Jobs earlier tests left queued (recordings of the live tests, which ran without a worker) would
    be taken first and use up this module's time on a slow machine: they are not this module's work."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    for queue in Queue.all(connection=connection):
        queue.empty()


@pytest.fixture(scope="module")
def worker(test_env):
    """One in-process RQ worker for every queue, as `diemcau worker --in-process` runs in production.
    Module-scoped: a worker left running would take jobs that later tests run themselves."""
    _drop_queued_jobs(test_env["REDIS_URL"])
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "worker.log", "w")  # noqa: SIM115 (the worker writes to it until teardown)
    proc = subprocess.Popen([_bin("diemcau"), "worker", "--in-process"], cwd=REPO_ROOT,
                            env={**os.environ, **test_env}, stdout=log, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(20)


@pytest.fixture(scope="module")
def browser():
    # Module-scoped: Playwright's sync API keeps an asyncio loop running in this thread while it is
    # open, and later tests (the media server's) need to run their own loops.
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def wait_for_js(page, expression: str, timeout: float = 30_000, polling_ms: float = 100):
    """Playwright's wait_for_function, without eval inside the page: it polls with page.evaluate (run by
    the DevTools protocol), since the pages' Content-Security-Policy refuses eval (`wait_for_function`
    evaluates its predicate with eval)."""
    deadline = time.monotonic() + timeout / 1000
    last_error: Exception | None = None
    while True:
        try:
            result = page.evaluate(expression)
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - mid-navigation, or the element is not there yet
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} still false after {timeout:.0f} ms (last error: {last_error})")
        page.wait_for_timeout(polling_ms)


def wait_for(predicate, timeout: float, what: str, errors: tuple[type[BaseException], ...] = ()):
    """The first truthy value of predicate(); a service that is down meanwhile (a connection error, or one of
    `errors`) counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, *errors):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_portal_link(page, timeout: float = 240_000) -> None:
    """On a recording's panel page: the stages move live (no reload) until the portal link appears; fails with
    the stages and the worker's log when a stage failed or time ran out."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the assertion below says what happened instead
        page.wait_for_selector("#portal-link:not([hidden]), li.stage.failed", timeout=timeout)
    assert page.locator("#portal-link:not([hidden])").count() == 1, (
        page.locator("ol.stages").inner_text(), (ARTIFACTS / "worker.log").read_text()[-3000:])


def watch_csp(page) -> list[str]:
    """Console messages of Content-Security-Policy violations on `page` (a blocked script fails silently)."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    return violations


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    violations = watch_csp(page)
    yield page
    context.close()
    assert not violations, f"Content-Security-Policy violations: {violations}"
