"""Child processes that die with their parent.

A job's ffmpeg (and an RQ work horse) must not outlive the process that started it: a SIGKILLed
worker cannot clean up, and an orphaned ffmpeg would keep writing into the work folder of the job's
retry. Linux's PR_SET_PDEATHSIG has the kernel send SIGKILL to the child when its parent thread
exits, however it exits. Elsewhere this is a no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has prctl
        return None


_prctl = _load_prctl()  # resolved once, before any fork: the child only makes the call


def die_with_parent(expected_parent: int | None = None) -> None:
    """In a freshly forked child: be SIGKILLed when the parent (thread) exits.

    `expected_parent` closes the race where the parent died before the call: the child then kills
    itself at once instead of running as an orphan."""
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if expected_parent is not None and os.getppid() != expected_parent:
        os.kill(os.getpid(), signal.SIGKILL)


def preexec_die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen called in the parent, bound to the parent's pid."""
    parent = os.getpid()
    return lambda: die_with_parent(parent)
