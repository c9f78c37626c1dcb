"""WebVTT and SRT files from plain cue dicts ({"start", "end", "text"}), via webvtt-py.

The transcription package has its own writers for its Cue objects; edits (trims, social cuts)
work on the cue dicts stored with a transcript, so they write through here and stay independent
of how transcription represents cues.
"""

from __future__ import annotations

import html
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def write_vtt(cues: Iterable[Mapping[str, Any]], path: str | Path, language: str | None = None) -> Path:
    import webvtt

    # VTT cue text is markup: escape &, <, > (this also keeps "-->" out of the text).
    captions = [_caption(c, html.escape(str(c.get("text", "")), quote=False)) for c in cues]
    doc = webvtt.WebVTT(captions=captions, metadata=[f"Language: {language}"] if language else None)
    return _write(Path(path), lambda handle: doc.write(handle, format="vtt"))


def write_srt(cues: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    import webvtt

    doc = webvtt.WebVTT(captions=[_caption(c, str(c.get("text", ""))) for c in cues])
    return _write(Path(path), lambda handle: doc.write(handle, format="srt"))


def read_vtt(path: str | Path) -> list[dict[str, Any]]:
    """Cues of a WebVTT file as dicts (seconds), e.g. to check what was written."""
    import webvtt

    return [
        {"start": _seconds(c.start), "end": _seconds(c.end), "text": html.unescape(c.text)}
        for c in webvtt.read(str(path))
    ]


def _seconds(stamp: str) -> float:
    parts = [float(x) for x in stamp.replace(",", ".").split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    h, m, s = parts
    return round(h * 3600 + m * 60 + s, 3)


def _caption(cue: Mapping[str, Any], text: str):  # -> webvtt.Caption (imported lazily)
    from webvtt import Caption

    start = max(float(cue["start"]), 0.0)
    end = max(float(cue["end"]), start)
    return Caption(start=_timestamp(start), end=_timestamp(end), text=unicodedata.normalize("NFC", text))


def _timestamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _write(path: Path, writer) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            writer(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
