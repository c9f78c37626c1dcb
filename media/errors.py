"""Errors raised by the media layer.

Only problems a user can act on (bad upload, unsupported file) become `MediaError`; programming
errors stay ordinary exceptions. The web layer maps `code` to a translated message, so codes are a
stable contract: never rename one.
"""

from __future__ import annotations

EMPTY_FILE = "empty_file"
NOT_MEDIA = "not_media"
TRUNCATED = "truncated"
NO_STREAMS = "no_streams"
UNSUPPORTED_CODEC = "unsupported_codec"
TOO_LARGE_DIMENSIONS = "too_large_dimensions"
FFMPEG_FAILED = "ffmpeg_failed"
# Streams that exist but hold nothing to play (0 frames / 0 samples).
NO_FRAMES = "no_frames"
# Edits (trims, social cuts): a range the media does not have, or one that leaves nothing.
TRIM_OUT_OF_RANGE = "trim_out_of_range"
TRIM_EMPTY = "trim_empty"
RANGE_TOO_LONG = "range_too_long"
# Burned-in subtitles need a font with every Vietnamese diacritic (fonts-noto-core).
FONT_MISSING = "font_missing"
# A playlist, concat script or manifest: a list of other files and URLs, never read (media/safe_input.py).
PLAYLIST = "playlist"

CODES = frozenset(
    {
        EMPTY_FILE, NOT_MEDIA, TRUNCATED, NO_STREAMS, UNSUPPORTED_CODEC, TOO_LARGE_DIMENSIONS, FFMPEG_FAILED,
        NO_FRAMES, TRIM_OUT_OF_RANGE, TRIM_EMPTY, RANGE_TOO_LONG, FONT_MISSING, PLAYLIST,
    }
)  # fmt: skip


class MediaError(Exception):
    """A problem with the input a user can act on.

    `code` is a stable machine code that the web layer translates (Vietnamese/English);
    `detail` is technical text for logs (ffprobe/ffmpeg stderr tail), never shown verbatim to users.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        # Keep code/detail when pickled, e.g. when an RQ worker stores the exception.
        return (type(self), (self.code, self.detail))
