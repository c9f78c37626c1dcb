"""Names for storage keys and URLs derived from what users typed."""
from __future__ import annotations

import re
import unicodedata


def subtitles_prefix(recording) -> str:
    """Where a recording's subtitle files are stored."""
    return f"recordings/{recording.id}/subtitles"


def ascii_fold(text: str) -> str:
    """'Đưa nghị quyết' -> 'Dua nghi quyet' (đ is not a combining mark, so map it by hand)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def slugify(text: str, max_len: int = 80) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_fold(text).lower()).strip("-")
    return slug[:max_len].rstrip("-") or "video"


def storage_safe_name(filename: str) -> str:
    """A file name safe as the last part of a storage key: no folders, no '..', ASCII, keeps the extension."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())[:10]
    base = slugify(stem, 60) if stem else "file"
    return f"{base}.{ext}" if ext else base
