"""`diemcau eval-asr`: per file in process, and --long through real chunk jobs on worker processes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DIEMCAU = str(Path(sys.executable).with_name("diemcau"))
FILES = ("ref_example_3.wav", "preset_Ly_nu_mien_Bac.wav", "ref_example_2.wav")


@pytest.fixture
def small_set(tmp_path, shared_data) -> Path:
    """Three real clips and their references (linked, not copied)."""
    source = shared_data / "speech_vi"
    rows = {}
    for line in (source / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, text = line.split("\t", 1)
        rows[name] = text
    folder = tmp_path / "set"
    folder.mkdir()
    for name in FILES:
        (folder / name).symlink_to(source / name)
    (folder / "transcripts.tsv").write_text("file\ttext\n" + "".join(f"{n}\t{rows[n]}\n" for n in FILES),
                                            encoding="utf-8")
    return folder


def _run(args: list[str], test_env) -> tuple[dict, list[str]]:
    done = subprocess.run([DIEMCAU, "eval-asr", *args, "--json"], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]), lines[:-1]


def test_eval_per_file_prints_each_file_and_a_json_summary(small_set, test_env):
    summary, lines = _run([str(small_set), "--threads", "2"], test_env)
    assert [line.split("\t")[0] for line in lines] == list(FILES)
    assert set(summary) >= {"wer", "cer", "audio_s", "wall_s", "rtf", "model", "settings"}
    assert 0 <= summary["wer"] < 0.5 and 0 <= summary["cer"] < summary["wer"] + 0.01
    assert summary["audio_s"] == pytest.approx(7.9, abs=0.3)
    assert summary["rtf"] == pytest.approx(summary["wall_s"] / summary["audio_s"], rel=0.01)
    assert summary["model"] == "bundled:whisper-base"
    assert summary["settings"]["decode"]["decoder"] == "sequential" and summary["settings"]["mode"] == "per_file"


def test_eval_long_runs_chunk_jobs_on_two_workers(small_set, test_env):
    summary, lines = _run([str(small_set), "--long", "--workers", "2"], test_env)
    assert lines[-1].startswith("joined\t")
    settings = summary["settings"]
    assert settings["mode"] == "long" and settings["workers"] == 2 and settings["threads_per_worker"] == 1
    assert settings["chunks"] >= 1 and settings["decode"]["decoder"] == "batched"
    assert 0 <= summary["wer"] < 0.5
    # Three clips and two 0.5 s pauses.
    assert summary["audio_s"] == pytest.approx(7.9 + 1.0, abs=0.3)
    assert "loadavg_1m" in settings["load_before"]


def test_eval_refuses_a_folder_without_references(tmp_path, test_env):
    done = subprocess.run([DIEMCAU, "eval-asr", str(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "transcripts.tsv" in done.stderr and "Traceback" not in done.stderr
