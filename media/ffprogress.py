"""Run ffmpeg with live progress, cancellation and useful errors.

ffmpeg-python's own `run()` only returns at the end; we need percentages while it runs (the job
page shows them) and a way to stop it when the job is cancelled. So commands are built with
ffmpeg-python, compiled, and run here with `-progress pipe:1`.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import ffmpeg

from media.errors import FFMPEG_FAILED, NOT_MEDIA, TRUNCATED, UNSUPPORTED_CODEC, MediaError
from media.parentdeath import preexec_die_with_parent

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], None]

# stderr fragments that point at a user-fixable input problem rather than a bug or a crash.
_CLASSIFY = (
    ("decoder (codec", UNSUPPORTED_CODEC),
    ("unknown decoder", UNSUPPORTED_CODEC),
    ("no decoder for", UNSUPPORTED_CODEC),
    ("moov atom not found", TRUNCATED),
    # media.safe_input's whitelists refused the file (a format we do not read) or something it names.
    ("not on whitelist", NOT_MEDIA),
)


def compile_args(cmd: Sequence[str] | Any) -> list[str]:
    """Accept an argv list (executable first) or an ffmpeg-python stream/output node."""
    if isinstance(cmd, (list, tuple)):
        return [str(a) for a in cmd]
    return list(ffmpeg.compile(cmd))


def percent_from_progress(key: str, value: str, duration_s: float | None) -> float | None:
    """Percent done from one `-progress` line, or None when the line carries no position."""
    if not duration_s or duration_s <= 0:
        return None
    # out_time_ms is (historically) also in microseconds; prefer out_time_us when present.
    if key not in ("out_time_us", "out_time_ms"):
        return None
    try:
        us = int(value)
    except ValueError:  # "N/A" before the first frame
        return None
    return max(0.0, min(100.0, us / 1e6 / duration_s * 100.0))


def run_ffmpeg(
    cmd: Sequence[str] | Any,
    duration_s: float | None,
    progress: ProgressFn | None = None,
    *,
    cwd: str | Path | None = None,
    stderr_lines: int = 25,
) -> list[str]:
    """Run ffmpeg, calling `progress(percent)` with increasing values and finally 100.

    Returns the last `stderr_lines` non-empty stderr lines (analysis filters such as loudnorm and
    ebur128 print their results there).

    Raises MediaError (code "ffmpeg_failed", or a more specific one when stderr says so) with the
    last stderr lines when ffmpeg fails. `cwd` lets callers use relative output paths. If `progress`
    raises (e.g. the job was cancelled), ffmpeg is stopped and the exception propagates unchanged.
    """
    argv = compile_args(cmd)
    # Global options go right after the executable; -nostdin stops ffmpeg from eating a worker's stdin.
    argv = [argv[0], "-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", *argv[1:]]
    log.debug("running %s", subprocess.list2cmdline(argv))
    last = -1.0

    def report(pct: float) -> None:
        nonlocal last
        if progress is not None and pct > last:
            last = pct
            progress(round(pct, 2))

    tail: deque[str] = deque(maxlen=stderr_lines)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        bufsize=1,
        cwd=cwd,
        # Killed with the job (a SIGKILLed work horse or worker), never left transcoding beside its retry.
        preexec_fn=preexec_die_with_parent(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    drain = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drain.start()
    try:
        report(0.0)
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            pct = percent_from_progress(key, value, duration_s)
            if pct is not None:
                report(min(pct, 99.9))  # 100 only once ffmpeg has exited cleanly
        rc = proc.wait()
    except BaseException:
        stop(proc)
        raise
    finally:
        drain.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if rc != 0:
        detail = "\n".join(tail)
        raise MediaError(classify_failure(tail), f"ffmpeg exited with {rc}: {detail}")
    report(100.0)
    return list(tail)


def classify_failure(stderr_lines: Iterable[str]) -> str:
    text = "\n".join(stderr_lines).lower()
    for needle, code in _CLASSIFY:
        if needle in text:
            return code
    return FFMPEG_FAILED


def stop(proc: subprocess.Popen[Any], grace_s: float = 3.0) -> None:
    """Terminate ffmpeg (SIGTERM lets it exit quickly), then kill if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _drain(stream: IO[str], tail: deque[str]) -> None:
    # Read stderr concurrently so a chatty ffmpeg never blocks on a full pipe.
    for line in stream:
        line = line.rstrip()
        if line:
            tail.append(line)


class Monotonic:
    """Forwards strictly increasing percentages to the caller's callback (if any)."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.last = -1.0

    def __call__(self, pct: float) -> None:
        pct = round(max(0.0, min(100.0, pct)), 2)
        if self.callback is not None and pct > self.last:
            self.last = pct
            self.callback(pct)

    def phase(self, start: float, end: float) -> ProgressFn:
        """A 0..100 callback for one step, mapped onto [start, end] of the whole job."""
        return lambda p: self(start + (end - start) * p / 100.0)
