"""What ffmpeg may open while it reads a file: that file, and nothing else.

Several ffmpeg demuxers are indirections: an HLS playlist, a DASH manifest, a concat script or an
IMF package names other files and URLs, and ffmpeg opens them as it reads. An uploaded `.m3u8`
whose entry is `file:///…`, `../../…`, `subfile:`, `concat:` or `http://127.0.0.1/…` would make a
worker read the server's own files (or query its network) and publish the result. So every
ffmpeg/ffprobe run on a file a user gave us gets:

- `-protocol_whitelist file`: no network, no `data:`, `subfile:`, `concat:` or `crypto:`;
- `-format_whitelist` with `UPLOAD_DEMUXERS` only, real containers that hold their media
  themselves; ffmpeg passes both lists down to anything a demuxer opens in turn;
- `-f <demuxer>` where the demuxer is already known from the probe, so the file cannot be read
  as something else between the probe and the encode;
- the path made absolute, so no name is taken for a protocol or an option.

Our own HLS renditions (read back for the MP4 remux and the storyboard) need the HLS demuxer:
`own_hls_input` allows it only for a playlist whose every entry is a plain file beside it.
The recorder's join reads its own segment list with the concat demuxer in its safe mode
(`concat_list_args`). Stdlib only, apart from ffmpeg-python for the ffmpeg-python inputs, so
`transcribe` can use it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from media.errors import NOT_MEDIA, PLAYLIST, MediaError

PROTOCOLS = "file"

# ffmpeg demuxer name -> what arrives in it. A demuxer belongs here only if it never opens another
# file or URL; see docs/media.md ("Hostile input") before adding one.
UPLOAD_DEMUXERS: dict[str, str] = {
    "mov": "MP4, MOV, M4A, 3GP: phones, cameras, every editor's export",
    "matroska": "MKV, WebM: OBS, browser recordings, our own live masters",
    "mpegts": "TS, MTS, M2TS: AVCHD camcorders, broadcast captures",
    "mpeg": "MPG, VOB (MPEG program stream): DVDs, older capture boxes",
    "avi": "AVI: older cameras and capture software",
    "flv": "FLV: streaming software recordings",
    "asf": "WMV, WMA: Windows recorders",
    "wav": "WAV: recorders, sound desks",
    "mp3": "MP3",
    "aac": "AAC in ADTS (.aac)",
    "ogg": "OGG, OPUS, OGA",
    "flac": "FLAC",
    "amr": "AMR: older phones' voice recorders",
}
FORMAT_WHITELIST = ",".join(UPLOAD_DEMUXERS)
# Our own MP4/M4A outputs (the download, the audio, social cuts) when they are read back.
MP4_DEMUXER = "mov"

# Demuxers that read other files or URLs: a file detected as one of them gets the PLAYLIST message
# (any other demuxer off the list is NOT_MEDIA). Both are refused; this only picks the words.
INDIRECT_DEMUXERS = frozenset(
    {"hls", "applehttp", "dash", "concat", "imf", "sdp", "rtsp", "rtp", "webm_dash_manifest"}
)
# Refused by name before ffprobe runs: lists of other files, and text.
PLAYLIST_SUFFIXES = frozenset({".m3u8", ".m3u", ".ffconcat", ".concat", ".mpd", ".pls", ".xspf", ".asx", ".sdp",
                               ".cue", ".imf"})
TEXT_SUFFIXES = frozenset({".txt", ".srt", ".vtt", ".ass", ".json", ".xml", ".html", ".htm"})

# Our own renditions: the HLS demuxer and the fMP4 segments it opens, nothing else.
OWN_HLS_FORMATS = "hls,mov"
# The recorder's join: the concat demuxer over its own Matroska segments.
OWN_CONCAT_FORMATS = "concat,matroska"

_REFUSED_FORMAT = re.compile(r"\[([^\]@\s]+) @ 0x[0-9a-fA-F]+\] Format not on whitelist")
# A plain file name: no directory, no scheme (':'), no '..'. '%' because ffmpeg leaves its own
# '%v' template unexpanded in the playlist of a stream that produced no samples.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_%][A-Za-z0-9_.%-]*$")


def demuxer_name(format_name: str) -> str:
    """The demuxer ffprobe reports as 'mov,mp4,m4a,3gp,3g2,mj2', named the way -f takes it ('mov')."""
    return format_name.split(",", 1)[0].strip()


def check_demuxer(format_name: str) -> str:
    """The -f name for a probed format; MediaError if uploads may not be read with it."""
    name = demuxer_name(format_name)
    if name in UPLOAD_DEMUXERS:
        return name
    raise MediaError(PLAYLIST if name in INDIRECT_DEMUXERS else NOT_MEDIA, f"demuxer {name!r} is not accepted")


def check_file_name(name: str) -> None:
    """Refuse upload names that announce a list of other files (or text) before any ffmpeg runs."""
    suffix = Path(name).suffix.lower()
    if suffix in PLAYLIST_SUFFIXES:
        raise MediaError(PLAYLIST, f"{suffix} files list other files")
    if suffix in TEXT_SUFFIXES:
        raise MediaError(NOT_MEDIA, f"{suffix} files are text")


def refused_demuxer(stderr: str) -> str | None:
    """The demuxer ffmpeg detected when it refused a file for not being on the whitelist."""
    found = _REFUSED_FORMAT.search(stderr or "")
    return demuxer_name(found.group(1)) if found else None


def input_options(demuxer: str | None = None) -> dict[str, str]:
    """ffmpeg input options (ffmpeg-python kwargs) for a file a user gave us; `demuxer` forces -f."""
    opts = {"protocol_whitelist": PROTOCOLS, "format_whitelist": FORMAT_WHITELIST}
    if demuxer:
        opts["f"] = check_demuxer(demuxer)
    return opts


def input_args(path: str | Path, demuxer: str | None = None, *, extra: Sequence[str] = ()) -> list[str]:
    """The argv fragment that opens `path` for ffmpeg or ffprobe: options, `extra` input options, -i."""
    args: list[str] = []
    for key, value in input_options(demuxer).items():
        args += [f"-{key}", value]
    return [*args, *extra, "-i", absolute(path)]


def user_input(path: str | Path, demuxer: str | None = None, **kwargs: Any) -> Any:
    """An ffmpeg-python input reading `path` under the rules above (kwargs: -ss, -t and the like)."""
    import ffmpeg

    return ffmpeg.input(absolute(path), **input_options(demuxer), **kwargs)


def absolute(path: str | Path) -> str:
    return str(Path(path).resolve())


# --- our own outputs ----------------------------------------------------------------------------


def check_own_playlist(playlist: Path) -> None:
    """Refuse a playlist that names anything but plain files beside it (so never a user's)."""
    try:
        text = playlist.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaError(NOT_MEDIA, f"{playlist.name}: {exc}") from None
    for uri in _playlist_uris(text.splitlines()):
        if not _PLAIN_NAME.match(uri):
            raise MediaError(PLAYLIST, f"{playlist.name} names {uri!r}, not a file beside it")


def own_hls_input(playlist: Path, **kwargs: Any) -> Any:
    """An ffmpeg-python input for an HLS playlist this process wrote (see check_own_playlist)."""
    import ffmpeg

    check_own_playlist(playlist)
    return ffmpeg.input(absolute(playlist), f="hls", protocol_whitelist=PROTOCOLS, format_whitelist=OWN_HLS_FORMATS,
                        **kwargs)


def concat_list_args(segments: Sequence[Path], listing: Path) -> list[str]:
    """Write `listing` (an ffconcat script of `segments`, all beside it) and return the input args.

    The concat demuxer's safe mode (-safe 1, its default) accepts only relative names without
    '..', so the list can name nothing outside its own folder.
    """
    folder = listing.parent.resolve()
    names = []
    for seg in segments:
        if seg.resolve().parent != folder or not _PLAIN_NAME.match(seg.name):
            raise ValueError(f"{seg} is not a plain file in {folder}")
        names.append(seg.name)
    listing.write_text("ffconcat version 1.0\n" + "".join(f"file '{n}'\n" for n in names), encoding="utf-8")
    return ["-f", "concat", "-safe", "1", "-protocol_whitelist", PROTOCOLS, "-format_whitelist", OWN_CONCAT_FORMATS,
            "-i", absolute(listing)]


def _playlist_uris(lines: Iterable[str]) -> list[str]:
    uris = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            # ffmpeg takes attribute values quoted or not: URI="a.mp4" and URI=a.mp4.
            uris += [q or bare for q, bare in re.findall(r'URI=(?:"([^"]*)"|([^,\s]*))', line)]
        else:
            uris.append(line)
    return uris
