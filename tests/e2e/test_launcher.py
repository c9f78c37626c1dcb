"""The README's run command on a fresh data folder: `diemcau up` brings up every Procfile process on
embedded defaults (SQLite, local storage, a private Redis it starts itself) and the demo clip
travels the real pipeline to the portal."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from groundwork.redis_server import stop_private_redis
from tests.e2e.conftest import ARTIFACTS, REPO_ROOT, _free_port, wait_for

pytestmark = pytest.mark.e2e


def test_diemcau_up_runs_the_whole_system_on_embedded_defaults(tmp_path):
    data = tmp_path / "data"
    web_port, media_port = _free_port(), _free_port()
    # Whisper on its defaults (all cores), as a newcomer runs it.
    own = ("DATABASE_URL", "REDIS_URL", "STORAGE_URL", "DIEMCAU_WHISPER_THREADS", "DIEMCAU_WHISPER_REPLICAS")
    env = {k: v for k, v in os.environ.items() if k not in own}
    env.update(DIEMCAU_DATA_DIR=str(data), DIEMCAU_MEDIA_PORT=str(media_port), DIEMCAU_X264_PRESET="ultrafast")
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "diemcau-up.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("diemcau")), "up", "--port", str(web_port)],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_for(lambda: requests.get(base + "/login", timeout=3).status_code == 200, 90, "the panel")
        banner = log_path.read_text()
        assert f"http://127.0.0.1:{web_port}/panel/" in banner
        password = re.search(r"Login admin\s+admin / (\S+)", banner).group(1)
        assert (data / "diemcau.db").exists() and (data / "redis" / "port").exists()

        health = wait_for(lambda: requests.get(f"http://127.0.0.1:{media_port}/health", timeout=3).json(),
                          30, "the media server")
        assert health["status"] == "ok"

        # The demo clip goes through the worker processes to the portal.
        home = wait_for(lambda: (r := requests.get(base + "/", timeout=3)).ok and "/v/" in r.text and r.text,
                        240, "the demo clip on the portal")
        slug = re.search(r'href="/v/([^"]+)"', home).group(1)
        assert requests.get(f"{base}/v/{slug}", timeout=5).status_code == 200

        # The printed admin login works.
        session = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(base + "/login").text).group(1)
        response = session.post(base + "/login", data={"username": "admin", "password": password,
                                                       "csrf_token": token}, allow_redirects=False)
        assert response.status_code == 302
        assert session.get(base + "/admin/rq/", timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        stop_private_redis(data / "redis")
