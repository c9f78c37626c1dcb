"""Model folder validation and per-process loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcribe import TranscribeError, load_model, resolve_device, resolve_model_dir
from transcribe.bundle import SUPPORT_FILES


def _copy_model(src: Path, dest: Path, model_bytes: int | None = None) -> Path:
    """A model folder whose model.bin keeps only the first ``model_bytes`` bytes."""
    dest.mkdir()
    for name in SUPPORT_FILES:
        (dest / name).symlink_to(src / name)
    if model_bytes is None:
        (dest / "model.bin").symlink_to(src / "model.bin")
    else:
        with (src / "model.bin").open("rb") as inp, (dest / "model.bin").open("wb") as out:
            out.write(inp.read(model_bytes))
    return dest


def _code(exc_info: pytest.ExceptionInfo[TranscribeError]) -> str:
    return exc_info.value.code


def test_missing_folder_is_model_missing(tmp_path: Path) -> None:
    with pytest.raises(TranscribeError) as info:
        resolve_model_dir(tmp_path / "nope")
    assert _code(info) == "model_missing"


def test_folder_without_model_bin_is_model_missing(tmp_path: Path) -> None:
    with pytest.raises(TranscribeError) as info:
        resolve_model_dir(tmp_path)
    assert _code(info) == "model_missing"


@pytest.mark.parametrize("drop", ["config.json", "tokenizer.json", "vocabulary.json"])
def test_incomplete_folder_is_model_corrupt(model_dir: Path, tmp_path: Path, drop: str) -> None:
    folder = _copy_model(model_dir, tmp_path / "m")
    (folder / drop).unlink()
    with pytest.raises(TranscribeError) as info:
        resolve_model_dir(folder)
    assert _code(info) == "model_corrupt"


def test_bundled_aliases(model_dir: Path) -> None:
    for alias in (None, "base", "bundled"):
        assert resolve_model_dir(alias, cache_dir=model_dir) == model_dir


@pytest.mark.parametrize("size", [0, 100, 50_000_000])
def test_truncated_model_bin_is_model_corrupt(
    model_dir: Path, tmp_path: Path, cpu_opts: dict, size: int
) -> None:
    folder = _copy_model(model_dir, tmp_path / "m", model_bytes=size)
    with pytest.raises(TranscribeError) as info:
        load_model(folder, **cpu_opts)
    assert _code(info) == "model_corrupt"


def test_load_model_is_cached(model_dir: Path, cpu_opts: dict) -> None:
    first = load_model(model_dir, **cpu_opts)
    assert load_model(model_dir, **cpu_opts) is first
    # Same folder reached through the bundled alias is the same model too.
    assert load_model("bundled", cache_dir=model_dir, **cpu_opts) is first


def test_resolve_device() -> None:
    device, compute_type = resolve_device("auto", "auto")
    assert (device, compute_type) in {("cpu", "int8"), ("cuda", "float16")}
    assert resolve_device("cpu", "auto") == ("cpu", "int8")
    assert resolve_device("cuda", "auto") == ("cuda", "float16")
    assert resolve_device("cpu", "float32") == ("cpu", "float32")
