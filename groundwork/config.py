"""Every environment variable the product reads, with embedded defaults that work on a fresh machine.

Everything defaults to files under DIEMCAU_DATA_DIR (./data): a SQLite database, a local storage
folder, a secret key generated once. Production sets DATABASE_URL, REDIS_URL and STORAGE_URL.

Two objects, one table (docs/architecture.md, Settings):

* `load_settings()`: what a process fixes once at start (data folder, database, Redis, storage, secret);
  it creates the data folder and the secret on first use.
* `options()`: the tuning knobs, read afresh at each use (a few dictionary look-ups, no files touched),
  so a changed environment reaches the next request or job without a restart of the settings.

No other module reads `os.environ` (tests/test_architecture.py holds the few that must, with the reason).
"""
from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .storage import Storage, make_private_dirs, storage_from_url


def _env_int(name: str, default: int, env=None) -> int:
    value = (os.environ if env is None else env).get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None


def _env_float(env, name: str, default: float) -> float:
    value = env.get(name)
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def _env_list(env, name: str, sep: str = ",") -> tuple[str, ...]:
    return tuple(item.strip() for item in (env.get(name) or "").split(sep) if item.strip())


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
    web_port: int = 5000
    media_port: int = 8089
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
        max_upload_bytes=_env_int("DIEMCAU_MAX_UPLOAD_MB", 4096, env) * 1024 * 1024,
        whisper_model=env.get("DIEMCAU_WHISPER_MODEL") or None,
        whisper_device=env.get("DIEMCAU_WHISPER_DEVICE") or "auto",
        whisper_threads=_env_int("DIEMCAU_WHISPER_THREADS", 0, env),
        whisper_replicas=max(0, _env_int("DIEMCAU_WHISPER_REPLICAS", 0, env)),
        transcode_preset=env.get("DIEMCAU_X264_PRESET") or "veryfast",
        public_url=(env.get("DIEMCAU_PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/"),
        media_server_url=(env.get("DIEMCAU_MEDIA_URL") or "http://127.0.0.1:8089").rstrip("/"),
        proxy_hops=max(0, _env_int("DIEMCAU_PROXY_HOPS", 0, env)),
        web_port=_env_int("DIEMCAU_WEB_PORT", 5000, env),
        media_port=_env_int("DIEMCAU_MEDIA_PORT", 8089, env),
    )


@dataclass(frozen=True)
class Options:
    """The tuning knobs (see the module docstring); every field is one variable of the table."""
    # media server (the live plane)
    live_renditions: str | None = None          # "1280x720@1500,640x360@500" (kbit/s)
    live_fps: int = 30
    live_connect_timeout_s: float = 20.0
    live_peer_timeout_s: float = 15.0
    live_state_interval_s: float = 2.0
    live_segment_s: float = 2.0
    live_naive: bool = False                    # decode and re-encode per viewer (the baseline of bench/fanout.py)
    panel_internal_url: str | None = None       # how the media server reaches the panel; else public_url
    relay_parent: str | None = None
    relay_token: str | None = None
    relay_id: int = 0
    ice_servers: tuple[str, ...] = ()           # "stun:host:port", "turn:user:pass@host:port"
    ice_hosts: tuple[str, ...] = ()             # the host addresses ICE offers (none: every interface)
    # media products and speech recognition
    video_encoder: str = "auto"
    x264_crf: int = 23
    asr_chunked_above_s: float = 120.0
    subtitle_translations: str = "en"
    model_cache: Path | None = None             # where the bundled Whisper model is unpacked
    ct2_force_cpu_isa: str | None = None        # an operator's own choice of CTranslate2 kernels
    # publishing and the portal
    credentials_keys: tuple[str, ...] = ()      # extra Fernet keys for channel secrets (rotation)
    publish_timeout_s: int = 3 * 3600
    publish_lease_s: float = 60.0
    media_base_url: str | None = None
    outbound_allow: tuple[str, ...] = ()
    portal_cache_s: float = 5.0
    embed_ancestors: str = "*"
    # S3 storage (STORAGE_URL=s3://...)
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str | None = None


def options(environ: dict[str, str] | None = None) -> Options:
    env = os.environ if environ is None else environ
    try:
        chunked_above = _env_float(env, "DIEMCAU_ASR_CHUNKED_ABOVE_S", 120.0)
    except ValueError:
        chunked_above = 120.0
    return Options(
        live_renditions=env.get("DIEMCAU_LIVE_RENDITIONS") or None,
        live_fps=_env_int("DIEMCAU_LIVE_FPS", 30, env),
        live_connect_timeout_s=_env_float(env, "DIEMCAU_LIVE_CONNECT_TIMEOUT_S", 20.0),
        live_peer_timeout_s=_env_float(env, "DIEMCAU_LIVE_PEER_TIMEOUT_S", 15.0),
        live_state_interval_s=_env_float(env, "DIEMCAU_LIVE_STATE_INTERVAL_S", 2.0),
        live_segment_s=_env_float(env, "DIEMCAU_LIVE_SEGMENT_S", 2.0),
        live_naive=env.get("DIEMCAU_LIVE_NAIVE") == "1",
        panel_internal_url=env.get("DIEMCAU_PANEL_INTERNAL_URL") or None,
        relay_parent=env.get("DIEMCAU_RELAY_PARENT") or None,
        relay_token=env.get("DIEMCAU_RELAY_TOKEN") or None,
        relay_id=_env_int("DIEMCAU_RELAY_ID", 0, env),
        ice_servers=_env_list(env, "DIEMCAU_ICE_SERVERS"),
        ice_hosts=_env_list(env, "DIEMCAU_ICE_HOSTS"),
        video_encoder=env.get("DIEMCAU_VIDEO_ENCODER") or "auto",
        x264_crf=_env_int("DIEMCAU_X264_CRF", 23, env),
        asr_chunked_above_s=chunked_above,
        subtitle_translations=env.get("DIEMCAU_SUBTITLE_TRANSLATIONS", "en"),
        model_cache=Path(env["DIEMCAU_MODEL_CACHE"]).expanduser() if env.get("DIEMCAU_MODEL_CACHE") else None,
        ct2_force_cpu_isa=env.get("CT2_FORCE_CPU_ISA"),
        credentials_keys=_env_list(env, "DIEMCAU_CREDENTIALS_KEY"),
        publish_timeout_s=_env_int("DIEMCAU_PUBLISH_TIMEOUT_S", 3 * 3600, env),
        publish_lease_s=_env_float(env, "DIEMCAU_PUBLISH_LEASE_S", 60.0),
        media_base_url=(env.get("DIEMCAU_MEDIA_BASE_URL") or "").rstrip("/") or None,
        outbound_allow=_env_list(env, "DIEMCAU_OUTBOUND_ALLOW"),
        portal_cache_s=_env_float(env, "DIEMCAU_PORTAL_CACHE_S", 5.0),
        embed_ancestors=(env.get("DIEMCAU_EMBED_ANCESTORS") or "*").strip(),
        s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
    )


def storage_for(storage_url: str, opts: Options | None = None, **kwargs) -> Storage:
    """The storage behind `storage_url`, with the S3 endpoint and credentials of the options."""
    opts = opts or options()
    return storage_from_url(storage_url, endpoint_url=opts.s3_endpoint_url, access_key=opts.aws_access_key_id,
                            secret_key=opts.aws_secret_access_key, region=opts.aws_region, **kwargs)


def force_ctranslate2_isa(isa: str) -> bool:
    """Have CTranslate2 use `isa`'s kernels, unless an operator chose (CT2_FORCE_CPU_ISA) or it is loaded.

    CTranslate2 reads CT2_FORCE_CPU_ISA from the process environment once, when its library loads, and
    has no other way in: this is the one place that writes it. Returns whether it was set.
    """
    if options().ct2_force_cpu_isa is not None or "ctranslate2" in sys.modules:
        return False
    os.environ["CT2_FORCE_CPU_ISA"] = isa
    return True
