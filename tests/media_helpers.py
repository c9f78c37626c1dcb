"""Small, fast test media made with ffmpeg's lavfi sources (shared by several test suites).

Real recordings live outside the repository in ``<repo>/../shared/data`` (see its README); they
are read in place, never copied into the repo, and everything here degrades gracefully when that
folder is absent (speech falls back to a tone, ``speech_clip`` returns None).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Container suffix -> (video codec args, audio codec args). H.264/AAC unless the container needs otherwise.
_CODECS: dict[str, tuple[list[str], list[str]]] = {
    ".mp4": (["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28"], ["-c:a", "aac", "-b:a", "96k"]),
    ".mov": (["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28"], ["-c:a", "aac", "-b:a", "96k"]),
    ".mkv": (["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28"], ["-c:a", "aac", "-b:a", "96k"]),
    ".webm": (
        ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
        ["-c:a", "libopus", "-b:a", "64k"],
    ),
    ".mpg": (["-c:v", "mpeg2video", "-q:v", "5"], ["-c:a", "mp2", "-b:a", "192k"]),
    ".ts": (["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28"], ["-c:a", "aac", "-b:a", "96k"]),
}
_AUDIO_CODECS: dict[str, list[str]] = {
    ".m4a": ["-c:a", "aac", "-b:a", "96k"],
    ".aac": ["-c:a", "aac", "-b:a", "96k"],
    ".wav": ["-c:a", "pcm_s16le"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    ".ogg": ["-c:a", "libvorbis"],
    ".opus": ["-c:a", "libopus", "-b:a", "64k"],
    ".flac": ["-c:a", "flac"],
}


def shared_data_dir() -> Path | None:
    """``<repo>/../shared/data`` if it exists (test/eval recordings that are not part of the repo)."""
    d = Path(__file__).resolve().parents[2] / "shared" / "data"
    return d if d.is_dir() else None


def speech_wavs() -> list[Path]:
    """The Vietnamese speech clips from shared data, in a stable order ([] when absent)."""
    d = shared_data_dir()
    return sorted((d / "speech_vi").glob("*.wav")) if d else []


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; on failure raise with its stderr so test failures are readable."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")


def ffprobe_json(path: str | Path, *args: str) -> dict:
    """ffprobe -of json with the given selection args (default: format + streams)."""
    sel = list(args) or ["-show_format", "-show_streams"]
    res = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *sel, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)


def _speech_inputs(duration: float, workdir: Path) -> list[str] | None:
    """ffmpeg input args for real speech covering up to `duration` s, or None when data is absent."""
    wavs = speech_wavs()
    if not wavs:
        return None
    total, chosen = 0.0, []
    for w in wavs:
        chosen.append(w)
        total += wav_duration(w)
        if total >= duration:
            break
    listing = workdir / "speech.txt"
    listing.write_text("".join("file '{}'\n".format(str(w).replace("'", "'\\''")) for w in chosen), encoding="utf-8")
    return ["-f", "concat", "-safe", "0", "-i", str(listing)]


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def make_video(
    path: str | Path,
    *,
    duration: float = 6.0,
    width: int = 1280,
    height: int = 720,
    fps: float = 25,
    audio: bool | str = True,
    rotate: int = 0,
    vfr: bool = False,
    channels: int = 2,
    pattern: str = "testsrc2",
) -> Path:
    """A test video: `pattern` (testsrc2/smptebars/...) plus a sine tone, or real Vietnamese speech.

    audio: True/"tone" = 440 Hz sine, "speech" = clips from shared data (tone if absent), False = none.
    rotate: clockwise degrees stored as a display matrix, like a phone held upright: the coded
    picture stays `width`x`height`, players show it turned (90 -> portrait `height`x`width`).
    vfr: irregular frame timestamps (like phone footage). channels: 1, 2 or 6 (5.1).
    Odd sizes are stored as H.264 4:4:4 because 4:2:0 needs even dimensions.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        _make_video(path, Path(tmp), duration, width, height, fps, audio, rotate % 360, vfr, channels, pattern)
    return path


def _make_video(
    path: Path,
    tmp: Path,
    duration: float,
    width: int,
    height: int,
    fps: float,
    audio: bool | str,
    rotate: int,
    vfr: bool,
    channels: int,
    pattern: str,
) -> None:
    suffix = path.suffix.lower()
    vcodec, acodec = _CODECS.get(suffix, _CODECS[".mp4"])
    odd = width % 2 or height % 2
    if odd and pattern in ("testsrc2", "color"):
        pattern = "testsrc"  # testsrc2/color silently round odd sizes down to even
    args = ["-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate={fps}:duration={duration}"]
    audio_kind = None if audio is False or audio is None else ("speech" if audio == "speech" else "tone")
    if audio_kind == "speech":
        speech = _speech_inputs(duration, tmp)
        audio_kind = "speech" if speech else "tone"
    if audio_kind == "speech":
        args += speech  # type: ignore[operator]
    elif audio_kind == "tone":
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}"]

    vf = []
    if vfr:
        # Frame gaps of 1.4, 1.4, 0.2 frame periods: timestamps stay monotonic but irregular.
        # A fine time base first, or the 1/fps one rounds the offsets away.
        vf += ["settb=1/1000", f"setpts=(N+0.4*mod(N\\,3))/({fps}*TB)"]
    if "libx264" in vcodec:
        vf.append("format=yuv444p" if odd else "format=yuv420p")
    if vf:
        args += ["-vf", ",".join(vf)]
    if vfr:
        args += ["-fps_mode", "vfr", "-enc_time_base:v", "1:1000"]
    args += ["-map", "0:v", *vcodec]
    if audio_kind:
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        args += ["-map", "1:a", "-af", f"apad,aformat=channel_layouts={layout}", *acodec]
        args += ["-ar", "48000" if suffix != ".mpg" else "44100"]
    args += ["-t", str(duration)]

    if not rotate:
        ffmpeg(*args, str(path))
        return
    plain = tmp / f"plain{suffix}"
    ffmpeg(*args, str(plain))
    _set_rotation(plain, path, rotate)


def _set_rotation(src: Path, dest: Path, clockwise: int) -> None:
    """Stream-copy `src` to `dest` with a display matrix meaning `clockwise` degrees.

    ffmpeg >= 6 has -display_rotation (counter-clockwise); older ones take the `rotate` tag, whose
    sign convention changed between versions - so try each and check what ffprobe reads back.
    """
    attempts = [
        ["-display_rotation:v:0", str(-clockwise), "-i", str(src), "-c", "copy"],
        ["-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={clockwise}"],
        ["-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={(360 - clockwise) % 360}"],
    ]
    for attempt in attempts:
        try:
            ffmpeg(*attempt, str(dest))
        except RuntimeError:
            continue
        if display_rotation_cw(dest) == clockwise:
            return
    raise RuntimeError(f"this ffmpeg cannot write a {clockwise} degree display matrix")


def display_rotation_cw(path: str | Path) -> int:
    """Clockwise display rotation of the first video stream per its display matrix (0 if none)."""
    info = ffprobe_json(path, "-select_streams", "v:0", "-show_streams")
    for stream in info.get("streams", []):
        for side in stream.get("side_data_list") or []:
            if "rotation" in side:
                return round(-float(side["rotation"])) % 360
    return 0


def make_audio(path: str | Path, *, duration: float = 5.0, speech: bool = False, channels: int = 1) -> Path:
    """An audio-only file (codec by suffix: m4a/aac/wav/mp3/ogg/opus/flac): real speech or a tone."""
    path = Path(path)
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    acodec = _AUDIO_CODECS.get(path.suffix.lower(), _AUDIO_CODECS[".m4a"])
    with tempfile.TemporaryDirectory() as tmp:
        inputs = _speech_inputs(duration, Path(tmp)) if speech else None
        if inputs is None:
            inputs = ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={duration}"]
        ffmpeg(*inputs, "-af", f"apad,aformat=channel_layouts={layout}", "-t", str(duration), *acodec, str(path))
    return path


def speech_clip(path: str | Path, *, max_s: float = 20) -> Path | None:
    """A 640x360 colour-bars video with real Vietnamese speech (up to `max_s` s), None without shared data."""
    wavs = speech_wavs()
    if not wavs:
        return None
    total = sum(wav_duration(w) for w in wavs)
    duration = round(min(total, max_s), 3)
    return make_video(path, duration=duration, width=640, height=360, audio="speech", pattern="smptebars")


def truncate_file(src: str | Path, dest: str | Path, fraction: float) -> Path:
    """Copy the first `fraction` of `src`'s bytes to `dest`: an upload cut off mid-way."""
    data = Path(src).read_bytes()
    dest = Path(dest)
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def make_text_as_media(path: str | Path) -> Path:
    """A plain text file wearing a media extension (a classic wrong upload)."""
    path = Path(path)
    path.write_text("Biên bản cuộc họp\nĐây không phải là video.\n" * 20, encoding="utf-8")
    return path


def add_cover_art(audio_src: str | Path, dest: str | Path) -> Path:
    """Copy an audio file into `dest` (m4a/mp3) with an attached cover picture, like music downloads."""
    with tempfile.TemporaryDirectory() as tmp:
        cover = Path(tmp) / "cover.png"
        ffmpeg("-f", "lavfi", "-i", "smptebars=size=320x320", "-frames:v", "1", str(cover))
        ffmpeg(
            "-i", str(audio_src), "-i", str(cover), "-map", "0:a", "-map", "1:v", "-c:a", "copy",
            "-c:v", "png", "-disposition:v:0", "attached_pic", str(dest),
        )  # fmt: skip
    return Path(dest)


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


# --- analysis helpers for assertions -------------------------------------------------------------


def packets(path: str | Path, stream: str) -> list[dict]:
    """Packets of one stream (ffprobe specifier like "v:0") with pts_time, duration_time and flags."""
    info = ffprobe_json(path, "-select_streams", stream, "-show_entries", "packet=pts_time,duration_time,flags")
    return [p for p in info.get("packets", []) if p.get("pts_time") not in (None, "N/A")]


def stream_span(path: str | Path, stream: str) -> float:
    """Presentation span of a stream: last packet end minus first packet start (seconds)."""
    pk = packets(path, stream)
    if not pk:
        return 0.0
    starts = [float(p["pts_time"]) for p in pk]
    ends = [float(p["pts_time"]) + float(p.get("duration_time") or 0) for p in pk]
    return max(ends) - min(starts)


def keyframe_times(path: str | Path, stream: str = "v:0") -> list[float]:
    """Keyframe presentation times (seconds, rounded to ms), from packet flags: no decoding needed."""
    return sorted(round(float(p["pts_time"]), 3) for p in packets(path, stream) if "K" in p.get("flags", ""))


def decode_errors(path: str | Path) -> tuple[int, str]:
    """Decode every stream to nowhere; (exit code, error output). (0, "") means it decodes cleanly."""
    res = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.returncode, res.stderr.strip()


def mean_volume_db(path: str | Path) -> float:
    """Mean volume of the first audio stream (volumedetect), e.g. to prove a downmix is not silent."""
    detect = ["-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"]
    res = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), *detect],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in res.stderr.splitlines():
        if "mean_volume:" in line:
            return float(line.split("mean_volume:")[1].split()[0])
    raise RuntimeError("volumedetect printed no mean_volume")


# --- loudness, frame content and edit checks -------------------------------------------------------


def ebur128(path: str | Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the first audio stream, measured by ffmpeg's ebur128 filter.

    Parsed here on purpose rather than through media.loudness, so tests check outputs with an
    independent reading of the meter.
    """
    res = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-map", "0:a:0",
         "-af", "aformat=channel_layouts=stereo,ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = res.stderr[res.stderr.rindex("Summary:") :]
    integrated = float(summary.split(" I:")[1].split("LUFS")[0])
    peak = float(summary.split("Peak:")[1].split("dBFS")[0])
    return integrated, peak


def frame_gray(path: str | Path, t: float, width: int, height: int, *, crop: str | None = None) -> bytes:
    """The luma plane (Y, as coded: no range conversion) of the frame at `t`, scaled to width x height
    (after an optional crop=w:h:x:y). Even width and height."""
    vf = ",".join(([f"crop={crop}"] if crop else []) + [f"scale={width}:{height}", "format=yuv420p"])
    res = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path),
         "-frames:v", "1", "-vf", vf, "-f", "rawvideo", "pipe:"],
        capture_output=True, check=True,
    )  # fmt: skip
    return res.stdout[: width * height]


def make_frame_counter(path: str | Path, *, duration: float = 8.0, fps: int = 25, size: str = "320x180") -> Path:
    """A video whose every frame has luma = its frame index (0, 1, 2, ...), plus a tone.

    Decoding a frame of an edited output and reading its brightness tells which source frame it
    was, so a test can check that cuts land on the right frames.
    """
    path = Path(path)
    ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black:s={size}:r={fps}:d={duration}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
        "-vf", "geq=lum='N':cb=128:cr=128,format=yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path),
    )  # fmt: skip
    return path
