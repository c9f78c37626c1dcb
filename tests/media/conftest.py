"""Fixtures for the media tests: small sources generated once per session, shared transcodes.

Sources are short (3-4 s) and small because the suite must stay fast on a 2-core machine; tests
transcode with preset "ultrafast" unless they check something the preset affects.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    # `import media` / `tests.media_helpers` must work under any pytest invocation, whatever the
    # project-wide configuration says; the imports below are therefore done inside the fixtures.
    sys.path.insert(0, str(REPO_ROOT))


def _helpers() -> Any:
    import tests.media_helpers as helpers

    return helpers


@pytest.fixture(autouse=True)
def _need_ffmpeg() -> None:
    if not _helpers().have_ffmpeg():
        pytest.skip("ffmpeg/ffprobe are not installed")


@pytest.fixture(scope="session")
def src_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media-src")


@pytest.fixture(scope="session")
def video_720p(src_dir: Path) -> Path:
    return _helpers().make_video(src_dir / "720p.mp4", duration=4.0, width=1280, height=720)


@pytest.fixture(scope="session")
def small_video(src_dir: Path) -> Path:
    return _helpers().make_video(src_dir / "small.mp4", duration=3.0, width=640, height=360)


@pytest.fixture(scope="session")
def video_no_audio(src_dir: Path) -> Path:
    return _helpers().make_video(src_dir / "silent.mp4", duration=3.0, width=640, height=360, audio=False)


@pytest.fixture(scope="session")
def audio_m4a(src_dir: Path) -> Path:
    return _helpers().make_audio(src_dir / "voice.m4a", duration=3.0, speech=True)


@pytest.fixture(scope="session")
def rotated_video(src_dir: Path) -> Path:
    # Coded 640x360 with a 90 degree display matrix: a phone held upright, shown as 360x640.
    return _helpers().make_video(src_dir / "phone.mp4", duration=3.0, width=640, height=360, rotate=90)


@pytest.fixture(scope="session")
def shared_video_dir() -> Path:
    d = _helpers().shared_data_dir()
    if d is None or not (d / "video").is_dir():
        pytest.skip("shared test data (../shared/data/video) is absent; real-recording checks skipped")
    return d / "video"


@dataclass
class Transcoded:
    result: Any  # media.TranscodeResult
    out: Path
    progress: list[float]
    seconds: float


@pytest.fixture(scope="session")
def transcoded_720p(video_720p: Path, tmp_path_factory: pytest.TempPathFactory) -> Transcoded:
    """The 720p source through the full default ladder, once for all the checks that need it."""
    from media import transcode

    out = tmp_path_factory.mktemp("out-720p")
    values: list[float] = []
    t0 = time.monotonic()
    result = transcode(video_720p, out, preset="ultrafast", progress=values.append)
    return Transcoded(result, out, values, time.monotonic() - t0)
