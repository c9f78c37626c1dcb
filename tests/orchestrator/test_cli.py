"""The `diemcau` command on a fresh data folder: it creates its own database, needs no Redis for
`process`, and prints the JSON summary the benchmarks and operators rely on."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import m3u8

from tests.media_helpers import make_video, speech_clip

DIEMCAU = str(Path(sys.executable).with_name("diemcau"))
PRODUCTION_VARS = ("DATABASE_URL", "REDIS_URL", "STORAGE_URL")


def fresh_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_VARS}
    env.update(DIEMCAU_DATA_DIR=str(data_dir), DIEMCAU_X264_PRESET="ultrafast", DIEMCAU_WHISPER_THREADS="2")
    return env


def test_process_prints_a_json_summary_on_a_fresh_data_folder(tmp_path, shared_data):
    clip = speech_clip(tmp_path / "clip.mp4", max_s=10)
    out = tmp_path / "out"
    result = subprocess.run([DIEMCAU, "process", str(clip), "--title", "Thử CLI", "--out", str(out), "--json"],
                            env=fresh_env(tmp_path / "data"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (tmp_path / "data" / "diemcau.db").exists()
    assert not (tmp_path / "data" / "redis").exists()  # no Redis started (it would outlive the command)
    assert abs(summary["duration_s"] - 10) < 1.5
    assert summary["renditions"] and all(Path(r["playlist"]).exists() for r in summary["renditions"])
    assert {r["height"] for r in summary["renditions"]} >= {360}
    assert all(r["bandwidth"] > 0 for r in summary["renditions"])
    master = m3u8.load(summary["master_playlist"])
    assert len(master.playlists) >= 1
    for key in ("mp4", "poster", "subtitles_vtt"):
        assert Path(summary[key]).exists() and Path(summary[key]).is_relative_to(out), key
    assert Path(summary["subtitles_vtt"]).read_text(encoding="utf-8").startswith("WEBVTT")
    assert len(summary["transcript_text"]) > 10
    assert set(summary["timings_s"]) >= {"probe", "transcode", "transcribe", "total"}


def test_process_refuses_a_non_media_file_with_a_clear_message(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("không phải video")
    result = subprocess.run([DIEMCAU, "process", str(bad), "--json"], env=fresh_env(tmp_path / "data"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "not_media" in result.stderr and "Traceback" not in result.stderr


def test_users_create_and_db_upgrade_on_fresh_folder(tmp_path):
    env = fresh_env(tmp_path / "data")
    done = subprocess.run([DIEMCAU, "users", "create", "nguyenvana", "--role", "technician", "--generate"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "created nguyenvana (technician)" in done.stdout and "password: " in done.stdout
    again = subprocess.run([DIEMCAU, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_users_create_refuses_weak_passwords_and_a_reset_removes_the_kept_initial_one(tmp_path):
    env = fresh_env(tmp_path / "data")

    def create(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DIEMCAU, "users", "create", "tranthib", *args], env=env, capture_output=True,
                              text=True, timeout=60)

    for password, reason in (("a", "shorter than 10 characters"), ("1234567890", "most common passwords"),
                             ("tranthib-2026", "contains the username")):
        refused = create("--password", password)
        assert refused.returncode == 2 and reason in refused.stderr and "Traceback" not in refused.stderr
    assert create("--password", "đồi-chè-xanh-mướt").returncode == 0
    kept = tmp_path / "data" / "initial_passwords" / "tranthib"
    kept.parent.mkdir(exist_ok=True)
    kept.write_text("đồi-chè-xanh-mướt")
    reset = create("--password", "ruộng-bậc-thang-2026")
    assert reset.returncode == 0 and "updated tranthib" in reset.stdout
    assert not kept.exists()


def test_process_video_without_audio(tmp_path):
    clip = make_video(tmp_path / "silent.mp4", duration=3.0, width=640, height=360, audio=False)
    result = subprocess.run([DIEMCAU, "process", str(clip), "--json"], env=fresh_env(tmp_path / "data"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["subtitles_vtt"] is None and summary["transcript_text"] == ""
