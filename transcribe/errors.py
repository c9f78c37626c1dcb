"""Errors raised by the transcribe package."""

from __future__ import annotations

# Stable machine-readable codes: callers (workers, the panel) map them to
# user-facing messages, so they must not change.
MODEL_MISSING = "model_missing"
MODEL_CORRUPT = "model_corrupt"
AUDIO_UNREADABLE = "audio_unreadable"

CODES = frozenset({MODEL_MISSING, MODEL_CORRUPT, AUDIO_UNREADABLE})


class TranscribeError(Exception):
    """A failure the caller can report: ``code`` is one of ``CODES``."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in CODES:
            raise ValueError(f"unknown TranscribeError code: {code!r}")
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)
