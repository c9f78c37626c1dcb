"""HLS helpers: read the variant playlists ffmpeg wrote, measure them, write the master playlist.

ffmpeg's own master playlist declares BANDWIDTH from -maxrate guesses (or omits it for CRF
without caps) and its CODECS come out differently across versions, so we rewrite the master from
what was actually produced: measured peak/average bitrates and the avcC bytes of each init segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

AAC_LC = "mp4a.40.2"


@dataclass
class MediaPlaylist:
    path: Path
    init: str | None = None  # EXT-X-MAP URI
    segments: list[tuple[str, float]] = field(default_factory=list)  # (uri, duration)
    target_duration: float = 0.0

    @property
    def duration(self) -> float:
        return sum(d for _, d in self.segments)


def read_media_playlist(path: Path) -> MediaPlaylist:
    pl = MediaPlaylist(path)
    pending: float | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            pl.target_duration = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            attrs = line.split(":", 1)[1]
            for part in attrs.split(","):
                k, _, v = part.partition("=")
                if k.strip() == "URI":
                    pl.init = v.strip().strip('"')
        elif line.startswith("#EXTINF:"):
            pending = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line and not line.startswith("#") and pending is not None:
            pl.segments.append((line, pending))
            pending = None
    return pl


def measure_bandwidth(pl: MediaPlaylist) -> tuple[int, int]:
    """(peak, average) bits/s as RFC 8216 defines them.

    Peak is the highest rate over any run of consecutive segments lasting between 0.5 and 1.5
    target durations, so a tiny final segment doesn't count as a spike on its own.
    """
    base = pl.path.parent
    sizes = [(base / uri).stat().st_size for uri, _ in pl.segments]
    durs = [d for _, d in pl.segments]
    total_d = sum(durs)
    if not sizes or total_d <= 0:
        return 0, 0
    avg = sum(sizes) * 8 / total_d
    target = pl.target_duration or max(durs)
    lo, hi = 0.5 * target, 1.5 * target
    peak = 0.0
    for i in range(len(sizes)):
        nbytes, dur = 0, 0.0
        for j in range(i, len(sizes)):
            nbytes += sizes[j]
            dur += durs[j]
            if dur >= lo:
                if dur <= hi or j == i:  # an over-long lone segment still counts
                    peak = max(peak, nbytes * 8 / dur)
                break
    if peak == 0.0:  # whole programme shorter than half a target duration
        peak = avg
    return math.ceil(max(peak, avg)), math.ceil(avg)


def avc_codec_string(init_segment: Path) -> str:
    """RFC 6381 'avc1.PPCCLL' from the avcC box (profile, constraint flags, level)."""
    data = init_segment.read_bytes()
    i = data.find(b"avcC")
    if i < 0 or len(data) < i + 8:
        raise ValueError(f"no avcC box in {init_segment}")
    return f"avc1.{data[i + 5]:02x}{data[i + 6]:02x}{data[i + 7]:02x}"


@dataclass
class Variant:
    uri: str  # relative to the master playlist
    bandwidth: int
    average_bandwidth: int
    codecs: str
    resolution: tuple[int, int] | None = None
    frame_rate: Fraction | None = None
    audio_group: str | None = None  # the variant's sound comes from this EXT-X-MEDIA audio group


AUDIO_GROUP = "aud"


@dataclass
class AudioTrack:
    """The one audio rendition every video variant shares (encoded once, not once per variant)."""
    uri: str
    channels: int = 2
    group: str = AUDIO_GROUP
    name: str = "Audio"


def master_playlist_text(variants: list[Variant], audio: AudioTrack | None = None) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{audio.group}",NAME="{_quoted(audio.name)}",DEFAULT=YES,'
                     f'AUTOSELECT=YES,CHANNELS="{audio.channels}",URI="{_quoted(audio.uri)}"')
    for v in variants:
        attrs = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}"]
        if v.resolution:
            attrs.append(f"RESOLUTION={v.resolution[0]}x{v.resolution[1]}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={float(v.frame_rate):.3f}")
        attrs.append(f'CODECS="{v.codecs}"')
        if v.audio_group:
            attrs.append(f'AUDIO="{v.audio_group}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), v.uri]
    return "\n".join(lines) + "\n"


# --- subtitles in the master playlist ---------------------------------------------------------------

SUBTITLE_GROUP = "subs"


@dataclass
class SubtitleTrack:
    language: str  # BCP 47, e.g. "vi"
    name: str  # shown in players' menus, e.g. "Tiếng Việt"
    uri: str  # the subtitle media playlist, relative to the master
    default: bool = False


def subtitle_playlist_text(vtt_uri: str, duration_s: float) -> str:
    """A VOD media playlist whose one segment is the whole WebVTT file (RFC 8216 allows it)."""
    target = max(1, math.ceil(duration_s))
    return "\n".join([
        "#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD", f"#EXTINF:{duration_s:.3f},", vtt_uri, "#EXT-X-ENDLIST",
    ]) + "\n"  # fmt: skip


def with_subtitles(master_text: str, tracks: list[SubtitleTrack]) -> str:
    """The master playlist with a SUBTITLES group declared and referenced by every video variant.

    Idempotent: earlier subtitle declarations are replaced, so a re-run (new language, an edit)
    leaves exactly `tracks`. With no tracks the group disappears.
    """
    lines = [ln for ln in master_text.splitlines() if not ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    out: list[str] = []
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = [a for a in _split_attrs(line.split(":", 1)[1]) if not a.startswith("SUBTITLES=")]
            if tracks and any(a.startswith("RESOLUTION=") for a in attrs):  # video variants only
                attrs.append(f'SUBTITLES="{SUBTITLE_GROUP}"')
            line = "#EXT-X-STREAM-INF:" + ",".join(attrs)
        out.append(line)
    media = []
    for i, t in enumerate(tracks):
        default = "YES" if t.default or (i == 0 and not any(x.default for x in tracks)) else "NO"
        media.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",NAME="{_quoted(t.name)}",'
            f'LANGUAGE="{_quoted(t.language)}",DEFAULT={default},AUTOSELECT=YES,FORCED=NO,URI="{_quoted(t.uri)}"'
        )
    # EXT-X-MEDIA tags go before the first variant (after the header tags).
    first_variant = next((i for i, ln in enumerate(out) if ln.startswith("#EXT-X-STREAM-INF:")), len(out))
    return "\n".join(out[:first_variant] + media + out[first_variant:]) + "\n"


def _split_attrs(text: str) -> list[str]:
    """Attribute list split on commas outside quotes (CODECS="avc1...,mp4a..." has one inside)."""
    parts, cur, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def _quoted(value: str) -> str:
    return value.replace('"', "'").replace("\n", " ")
