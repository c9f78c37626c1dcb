"""Minimal ISO-BMFF (MP4/MOV/M4A) top-level box walker.

ffprobe happily reports the full duration of an MP4 whose `mdat` was cut short (the index in
`moov` still describes every sample), and fails with a vague message when `moov` itself is
missing. Reading the top-level box headers is cheap and tells both cases apart precisely.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# Box types that may legitimately open an ISO-BMFF file.
_LEADING_TYPES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}


@dataclass(frozen=True)
class Box:
    type: str
    offset: int
    size: int  # declared size; may exceed what is on disk when the file is truncated


def is_isobmff(path: str | Path) -> bool:
    """True when the file starts with an ISO-BMFF box header (by content, not by extension)."""
    with open(path, "rb") as f:
        head = f.read(12)
    return len(head) >= 8 and head[4:8] in _LEADING_TYPES


def top_level_boxes(path: str | Path) -> list[Box]:
    """Headers of the top-level boxes, in file order. Stops at garbage or end of file."""
    boxes: list[Box] = []
    file_size = Path(path).stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= file_size:
            f.seek(offset)
            header = f.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1:  # 64-bit "largesize" follows the type
                if len(header) < 16:
                    break
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:  # box extends to end of file
                size = file_size - offset
            if size < 8 or not kind.isascii():
                break
            boxes.append(Box(kind.decode("ascii", "replace"), offset, size))
            offset += size
    return boxes


def truncation_problem(path: str | Path) -> str | None:
    """Describe why an ISO-BMFF file is incomplete, or None when its box structure is whole."""
    file_size = Path(path).stat().st_size
    boxes = top_level_boxes(path)
    if not boxes:
        return "no ISO-BMFF boxes"
    last = boxes[-1]
    if last.offset + last.size > file_size:
        on_disk = file_size - last.offset
        return f"box '{last.type}' at {last.offset} declares {last.size} bytes, only {on_disk} on disk"
    if not any(b.type == "moov" for b in boxes):
        return "no 'moov' box (index missing: upload cut off or recording not finalised)"
    return None
