"""Cut a long recording at silences into chunks that separate jobs can transcribe.

Memory stays bounded whatever the length of the recording: ffmpeg decodes to
16 kHz mono PCM through a pipe, the samples go to a local WAV file as they
arrive, and voice activity detection runs on windows of ``window_s`` seconds.
Only the list of speech regions (a few numbers per sentence) is kept.

Chunks hold whole stretches of speech (never a cut inside a word: cuts fall in
silences found by VAD) and are at most ``max_chunk_s`` long. Silence between
chunks is not transcribed at all, which is also the first guard against
Whisper inventing text over silence.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import wave
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, pcm_command
from .errors import AUDIO_UNREADABLE, TranscribeError
from .options import PlanOptions

__all__ = ["Chunk", "ChunkPlan", "decode_and_detect", "plan_chunks", "prepare_chunks", "read_wav", "write_chunk"]

_BYTES_PER_SAMPLE = 2  # s16le
_READ_BLOCK_S = 10.0
# Speech regions closer than this to the end of a VAD window may continue into the next one.
_WINDOW_GUARD_S = 30.0


@dataclass
class Chunk:
    index: int
    start: float  # seconds in the recording
    end: float
    speech: list[tuple[float, float]] = field(default_factory=list)  # VAD regions inside, absolute

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)

    @property
    def speech_s(self) -> float:
        return round(sum(e - s for s, e in self.speech), 3)


@dataclass
class ChunkPlan:
    duration_s: float
    chunks: list[Chunk]
    options: dict

    @property
    def speech_s(self) -> float:
        return round(sum(c.speech_s for c in self.chunks), 3)

    def to_dict(self) -> dict:
        return {"duration_s": self.duration_s, "options": self.options, "speech_s": self.speech_s,
                "chunks": [asdict(c) for c in self.chunks]}

    @classmethod
    def from_dict(cls, data: dict) -> ChunkPlan:
        chunks = [Chunk(int(c["index"]), float(c["start"]), float(c["end"]),
                        [(float(s), float(e)) for s, e in c.get("speech", [])]) for c in data["chunks"]]
        return cls(float(data["duration_s"]), chunks, dict(data.get("options", {})))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _ffmpeg_pcm(path: Path) -> subprocess.Popen:
    return subprocess.Popen(pcm_command(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _pcm_blocks(path: Path, block_s: float = _READ_BLOCK_S) -> Iterator[bytes]:
    """Raw s16le blocks of the first audio stream; raises TranscribeError if ffmpeg cannot read it."""
    if not Path(path).is_file():
        raise TranscribeError(AUDIO_UNREADABLE, f"{path} does not exist")
    proc = _ffmpeg_pcm(Path(path))
    block = int(block_s * SAMPLE_RATE) * _BYTES_PER_SAMPLE
    produced = 0
    try:
        assert proc.stdout is not None
        while data := proc.stdout.read(block):
            produced += len(data)
            yield data
        # stderr is small (errors only); read it after stdout so the pipe cannot fill up and block.
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    if code != 0 and produced == 0:
        if "matches no streams" in err or "does not contain any stream" in err:
            raise TranscribeError(AUDIO_UNREADABLE, f"{Path(path).name} has no audio stream")
        raise TranscribeError(AUDIO_UNREADABLE, f"{Path(path).name}: {err.strip()[-300:] or f'ffmpeg exit {code}'}")
    if produced == 0:
        raise TranscribeError(AUDIO_UNREADABLE, f"{Path(path).name} decoded to no audio samples")


class _WindowedVad:
    """Silero VAD over a stream, window by window, with a carry-over so no region is cut at a window edge."""

    def __init__(self, options: PlanOptions) -> None:
        from faster_whisper.vad import VadOptions

        self.vad = VadOptions(threshold=options.vad_threshold, min_silence_duration_ms=options.vad_min_silence_ms,
                              speech_pad_ms=options.vad_speech_pad_ms, max_speech_duration_s=options.min_chunk_s)
        self.window = int(options.window_s * SAMPLE_RATE)
        self.guard = int(_WINDOW_GUARD_S * SAMPLE_RATE)
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0  # sample index of buffer[0] in the recording
        self.regions: list[tuple[int, int]] = []

    def feed(self, samples: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, samples])
        if len(self.buffer) >= self.window + self.guard:
            self._scan(final=False)

    def finish(self) -> list[tuple[int, int]]:
        if len(self.buffer):
            self._scan(final=True)
        return self.regions

    def _scan(self, *, final: bool) -> None:
        from faster_whisper.vad import get_speech_timestamps

        found = get_speech_timestamps(self.buffer, self.vad, sampling_rate=SAMPLE_RATE)
        limit = len(self.buffer) if final else len(self.buffer) - self.guard
        keep_from = 0 if final else max(0, limit)
        for region in found:
            if final or region["end"] < limit:
                self.regions.append((self.offset + region["start"], self.offset + region["end"]))
                keep_from = region["end"]
            else:
                keep_from = min(keep_from, region["start"])
                break
        if final:
            self.buffer = np.zeros(0, dtype=np.float32)
            return
        self.buffer = self.buffer[keep_from:]
        self.offset += keep_from


def decode_and_detect(
    source: str | Path,
    wav_path: str | Path,
    options: PlanOptions | None = None,
    progress: Callable[[float], None] | None = None,
    duration_hint: float | None = None,
) -> tuple[float, list[tuple[float, float]]]:
    """Decode ``source`` into a 16 kHz mono WAV and find its speech regions (seconds), in one pass."""
    options = options or PlanOptions()
    vad = _WindowedVad(options)
    samples = 0
    with wave.open(str(wav_path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(_BYTES_PER_SAMPLE)
        out.setframerate(SAMPLE_RATE)
        for data in _pcm_blocks(Path(source)):
            if len(data) % 2:
                data = data[:-1]
            out.writeframes(data)
            pcm = np.frombuffer(data, dtype="<i2")
            samples += len(pcm)
            vad.feed(pcm.astype(np.float32) / 32768.0)
            if progress and duration_hint:
                progress(min(99.0, 100.0 * samples / SAMPLE_RATE / duration_hint))
    regions = [(round(s / SAMPLE_RATE, 3), round(e / SAMPLE_RATE, 3)) for s, e in vad.finish()]
    return round(samples / SAMPLE_RATE, 3), regions


def plan_chunks(regions: list[tuple[float, float]], duration: float, options: PlanOptions | None = None) -> list[Chunk]:
    """Group speech regions into chunks of at most ``max_chunk_s``, cutting in the silences between them."""
    options = options or PlanOptions()
    # Enough chunks for several workers to share even a short recording, but never longer than the limit.
    limit = min(options.max_chunk_s, max(options.min_chunk_s, duration / options.target_chunks))
    # Chunks of equal length, not full chunks and a short remainder: workers take jobs in turn, so
    # 118+117+120+118+117+49 s gave one of two workers 355 s and the other 284 s (docs/asr.md).
    planned = max(1, math.ceil(duration / limit - 1e-9))
    groups: list[list[tuple[float, float]]] = []
    for start, end in sorted(regions):
        if end <= start:
            continue
        if groups:
            current = groups[-1]
            gap = start - current[-1][1]
            length = end - current[0][0] + 2 * options.pad_s
            # Cut only in a real silence; where speech runs on (VAD split it at the limit with no
            # gap), allow up to twice the limit before cutting anyway, so a chunk stays bounded.
            # The bound is max_chunk_s: a short recording's smaller limit only sets how many chunks.
            bound = options.max_chunk_s
            fits = length <= bound or (gap < options.min_gap_s and length <= 2 * bound)
            if fits and gap >= options.min_gap_s and len(groups) < planned:
                # This chunk's fair share of what is left: cut where the chunk comes closest to it.
                fair = (duration - current[0][0]) / (planned - len(groups) + 1)
                without = current[-1][1] - current[0][0] + 2 * options.pad_s
                fits = abs(length - fair) < abs(without - fair)
            if fits:
                current.append((start, end))
                continue
        groups.append([(start, end)])
    chunks: list[Chunk] = []
    for index, group in enumerate(groups):
        prev_end = groups[index - 1][-1][1] if index else 0.0
        next_start = groups[index + 1][0][0] if index + 1 < len(groups) else duration
        # Pads stop halfway into the silence on each side, so chunks never overlap.
        start = max(group[0][0] - options.pad_s, (prev_end + group[0][0]) / 2 if index else 0.0)
        last = index + 1 == len(groups)
        end = min(group[-1][1] + options.pad_s, duration if last else (group[-1][1] + next_start) / 2)
        chunks.append(Chunk(index, round(max(start, 0.0), 3), round(min(end, duration), 3), group))
    return chunks


def write_chunk(wav_path: str | Path, chunk: Chunk, dest: str | Path) -> Path:
    """Copy the chunk's sample range from the recording's WAV into its own WAV file."""
    dest = Path(dest)
    with wave.open(str(wav_path), "rb") as src, wave.open(str(dest), "wb") as out:
        rate = src.getframerate()
        first = int(round(chunk.start * rate))
        last = min(int(round(chunk.end * rate)), src.getnframes())
        out.setnchannels(1)
        out.setsampwidth(_BYTES_PER_SAMPLE)
        out.setframerate(rate)
        src.setpos(min(first, src.getnframes()))
        remaining = max(0, last - first)
        step = int(_READ_BLOCK_S * rate)
        while remaining > 0:
            frames = src.readframes(min(step, remaining))
            if not frames:
                break
            out.writeframes(frames)
            remaining -= len(frames) // _BYTES_PER_SAMPLE
    return dest


def read_wav(path: str | Path) -> np.ndarray:
    """A chunk WAV (16 kHz mono s16) as float32 samples."""
    try:
        with wave.open(str(path), "rb") as src:
            if src.getframerate() != SAMPLE_RATE or src.getnchannels() != 1 or src.getsampwidth() != 2:
                raise TranscribeError(AUDIO_UNREADABLE, f"{Path(path).name} is not 16 kHz mono 16-bit PCM")
            data = src.readframes(src.getnframes())
    except (wave.Error, EOFError) as exc:
        raise TranscribeError(AUDIO_UNREADABLE, f"{Path(path).name}: {exc}") from exc
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def prepare_chunks(
    source: str | Path,
    workdir: str | Path,
    options: PlanOptions | None = None,
    progress: Callable[[float], None] | None = None,
    duration_hint: float | None = None,
    emit: Callable[[Chunk, Path], None] | None = None,
) -> tuple[ChunkPlan, list[Path]]:
    """Decode, detect speech and write one WAV per chunk into ``workdir``.

    With ``emit``, each chunk file is handed over (e.g. uploaded) and deleted at once, so the
    disk holds the recording's WAV plus one chunk at a time; the list returned is then empty.
    The recording's full WAV is always removed.
    """
    options = options or PlanOptions()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    full = workdir / "recording.16k.wav"
    files: list[Path] = []
    try:
        duration, regions = decode_and_detect(source, full, options, progress, duration_hint)
        chunks = plan_chunks(regions, duration, options)
        for chunk in chunks:
            path = write_chunk(full, chunk, workdir / f"chunk-{chunk.index:05d}.wav")
            if emit is None:
                files.append(path)
                continue
            try:
                emit(chunk, path)
            finally:
                path.unlink(missing_ok=True)
    finally:
        with contextlib.suppress(OSError):
            full.unlink()
    return ChunkPlan(duration, chunks, options.to_dict()), files
