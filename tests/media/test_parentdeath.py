"""A child started with media.parentdeath's preexec_fn dies when the process that started it is
SIGKILLed (which cannot clean up): how ffmpeg dies with its job and a work horse with its worker."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from tests.conftest import REPO_ROOT

# A child that writes nothing (so no broken pipe ends it) and would sleep for a minute.
PARENT = """
import subprocess, sys
from media.parentdeath import preexec_die_with_parent
subprocess.run(["sleep", "60"], preexec_fn=preexec_die_with_parent() if sys.argv[1] == "tied" else None)
"""


def _child_after_parent_killed(mode: str) -> bool:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        deadline = time.monotonic() + 30
        children: list[psutil.Process] = []
        while not children and time.monotonic() < deadline:
            children = [p for p in psutil.Process(parent.pid).children() if p.name() == "sleep"]
            time.sleep(0.05)
        assert children, "the child did not start"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        _, alive = psutil.wait_procs(children, timeout=3)
        for child in alive:
            child.kill()
        return bool(alive)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_tied_child_dies_with_its_parent_and_an_untied_one_does_not():
    assert not _child_after_parent_killed("tied")
    assert _child_after_parent_killed("untied")  # what a plain Popen child does: it lives on
