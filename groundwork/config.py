"""Settings from environment variables, with embedded defaults that work on a fresh machine.

Everything defaults to files under DIEMCAU_DATA_DIR (./data): a SQLite database, a local storage
folder, a secret key generated once. Production sets DATABASE_URL, REDIS_URL and STORAGE_URL.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .storage import make_private_dirs


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _private_file(path: Path) -> Path:
    """Create `path` readable by its owner only (SQLite gives its journal and WAL files the same mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return path


def _persistent_secret(data_dir: Path) -> str:
    """A secret generated on first start and kept, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # an older install, or a copy, left it readable by others
        return path.read_text().strip()
    key = secrets.token_hex(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None          # None: the launcher starts a private Redis
    storage_url: str
    secret_key: str
    max_upload_bytes: int
    whisper_model: str | None      # None: the bundled base model
    whisper_device: str
    whisper_threads: int
    whisper_replicas: int          # copies of the model decoding side by side in one worker (0: auto)
    transcode_preset: str
    public_url: str
    media_server_url: str
    proxy_hops: int = 0            # reverse proxies in front of the web server whose X-Forwarded-* are trusted
    queues: tuple[str, ...] = field(default=("media", "asr", "publish", "default"))

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def upload_tmp_dir(self) -> Path:
        return self.data_dir / "uploads"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("DIEMCAU_DATA_DIR") or "data").resolve()
    make_private_dirs(data_dir)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{_private_file(data_dir / 'diemcau.db')}"
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        storage_url=env.get("STORAGE_URL") or str(data_dir / "storage"),
        secret_key=env.get("SECRET_KEY") or _persistent_secret(data_dir),
        max_upload_bytes=_env_int("DIEMCAU_MAX_UPLOAD_MB", 4096) * 1024 * 1024,
        whisper_model=env.get("DIEMCAU_WHISPER_MODEL") or None,
        whisper_device=env.get("DIEMCAU_WHISPER_DEVICE") or "auto",
        whisper_threads=_env_int("DIEMCAU_WHISPER_THREADS", 0),
        whisper_replicas=max(0, _env_int("DIEMCAU_WHISPER_REPLICAS", 0)),
        transcode_preset=env.get("DIEMCAU_X264_PRESET") or "veryfast",
        public_url=(env.get("DIEMCAU_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
        media_server_url=(env.get("DIEMCAU_MEDIA_URL") or "http://127.0.0.1:8089").rstrip("/"),
        proxy_hops=max(0, _env_int("DIEMCAU_PROXY_HOPS", 0)),
    )
