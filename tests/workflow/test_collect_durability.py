"""A collect stopped at any write (kill -9, disk full) is finished by the next one, and nothing is written twice.

One real run (screen, a stand-in run.sh) ends; each case collects a copy of that wiki in a child process that is
killed (SIGKILL) or told "No space left on device" (ENOSPC) at its k-th write — every atomic replace and the log
append — for every k; then `exprun collect` runs as a person would run it again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from workflow_helpers import DEMO_SLUG, REPO, deployed_and_ended, exprun, output, page_meta

STATE = f"experiments/state/{DEMO_SLUG}"
CHILD = """
import errno, os, signal, sys
from pathlib import Path
from exprun.core import config
from exprun.finish import collect
from exprun.core.errors import ExprunError
root, mode, at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
count = [0]
real_replace, real_write = os.replace, os.write
def step():
    count[0] += 1
    if count[0] == at:
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, "No space left on device")
def replace(*args, **kwargs):
    step()
    return real_replace(*args, **kwargs)
def write(fd, data):
    if fd > 2:
        step()
    return real_write(fd, data)
os.replace, os.write = replace, write
try:
    collect.collect(sys.argv[4], config.load(root), root)
except (OSError, ExprunError) as exc:
    print("stopped:", exc)
    sys.exit(3)
print("writes", count[0])
"""


@pytest.fixture(scope="module")
def ended_run(tmp_path_factory):
    from services import require_service

    require_service("GNU screen", shutil.which("screen") is not None, "apt-get install screen")
    root = tmp_path_factory.mktemp("ended") / "wiki root"
    shutil.copytree(REPO / "examples" / "wiki", root)
    deployed_and_ended(root)
    assert (root / STATE / "exit_status").read_text().strip() == "0"
    return root


def child(root, mode: str, at: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(root), mode, str(at), DEMO_SLUG], capture_output=True, text=True, timeout=120
    )


def completed_once(root) -> None:
    """What a finished collect leaves: the page completed with one block each, one log line, the reports."""
    page = (root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    assert page_meta(root)["status"] == "completed" and page_meta(root)["outcome"]
    assert page.count("<!-- exprun:begin results") == 1 and page.count("<!-- exprun:begin analysis") == 1
    log = (root / "wiki" / "log.md").read_text()
    assert log.count(f"exp-run | completed {DEMO_SLUG} |") == 1, log
    assert (root / STATE / "collected.json").exists() and (root / STATE / "RUN_REPORT.md").exists()
    assert not (root / STATE / "collect.pending.json").exists()
    assert json.loads((root / STATE / "collected.json").read_text())["succeeded_seeds"] == [0, 1, 2]


@pytest.mark.parametrize("mode", ["kill", "enospc"])
def test_a_collect_stopped_at_any_write_is_finished_by_the_next(ended_run, tmp_path, mode):
    counted = tmp_path / "count"
    shutil.copytree(ended_run, counted)
    done = child(counted, "count", 0)
    assert done.returncode == 0, done.stdout + done.stderr
    writes = int(done.stdout.split()[-1])
    completed_once(counted)
    assert writes >= 6, "evidence, plot, pending, page, log, report, collected"
    for at in range(1, writes + 1):
        root = tmp_path / f"{mode}-{at}"
        shutil.copytree(ended_run, root)
        stopped = child(root, mode, at)
        assert stopped.returncode == (-9 if mode == "kill" else 3), (at, stopped.stdout, stopped.stderr)
        again = exprun(root, "collect", DEMO_SLUG)
        assert again.returncode == 0, (at, output(again))
        completed_once(root)
        later = exprun(root, "collect", DEMO_SLUG)
        assert later.returncode == 1 and "already completed" in later.stderr, (at, output(later))
