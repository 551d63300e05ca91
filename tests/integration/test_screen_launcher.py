"""The screen launcher against real GNU screen: exact names, exit status, PIDs, hostile paths."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from exprun.core.errors import LaunchError
from exprun.machines.launchers import screen
from exprun.machines.launchers.base import RunSpec

pytestmark = pytest.mark.skipif(
    shutil.which("screen") is None and not os.environ.get("EXPRUN_REQUIRE_SERVICES"),
    reason="GNU screen not installed (apt-get install screen)",
)


@pytest.fixture
def slug(request):
    name = f"pytest-{os.getpid()}-{request.node.name.replace('_', '-').lower()[:30]}".strip("-")
    yield name
    for session in screen.sessions():
        if session.startswith(f"exp-{name}"):
            subprocess.run(["screen", "-S", session, "-X", "quit"], capture_output=True)


def spec(tmp_path: Path, slug: str, script: str) -> RunSpec:
    folder = tmp_path / "it's a dir with spaces"
    folder.mkdir(exist_ok=True)
    program = folder / 'my "script".sh'
    program.write_text(script)
    return RunSpec(
        slug=slug,
        command=["bash", str(program), "arg with space", "it's"],
        cwd=folder,
        log=folder / "logs" / "run log.txt",
        exit_file=folder / "state" / "exit_status",
    )


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_runs_detached_keeps_arguments_and_exit_status(tmp_path, slug):
    run = spec(tmp_path, slug, 'echo "args: [$1] [$2]"; pwd; exit 3\n')
    record = screen.launch(run)
    assert record.session == f"exp-{slug}" and record.pid > 0 and record.boot_id
    assert wait_until(lambda: screen.state(record).state == "exited")
    state = screen.state(record)
    assert state.exit_code == 3
    log = run.log.read_text()
    assert "args: [arg with space] [it's]" in log
    assert str(run.cwd) in log


def test_exit_status_survives_tee_and_alive_while_running(tmp_path, slug):
    run = spec(tmp_path, slug, "echo started; sleep 30\n")
    record = screen.launch(run)
    assert screen.state(record).alive
    os.kill(record.pid, signal.SIGKILL)  # the wrapper shell dies: no exit status can be written
    subprocess.run(["screen", "-S", record.session, "-X", "quit"], capture_output=True)
    assert wait_until(lambda: not screen.state(record).alive)
    assert screen.state(record).state == "lost"


def test_child_killed_by_sigkill_reports_137(tmp_path, slug):
    run = spec(tmp_path, slug, 'sleep 30 & echo $! > "$(dirname "$0")/child.pid"; wait $!\n')
    record = screen.launch(run)
    child = run.cwd / "child.pid"
    assert wait_until(lambda: child.exists() and child.read_text().strip())  # written, not just created
    os.kill(int(child.read_text()), signal.SIGKILL)
    assert wait_until(lambda: screen.state(record).state == "exited")
    assert screen.state(record).exit_code == 137


def test_exact_session_match_and_duplicate_refused(tmp_path, slug):
    other = spec(tmp_path, f"{slug}-ablation", "sleep 30\n")
    screen.launch(other)
    assert screen.session_exists(f"exp-{slug}-ablation")
    assert not screen.session_exists(f"exp-{slug}"), "a longer name must not make the prefix look alive"
    record = screen.launch(spec(tmp_path, slug, "sleep 30\n"))
    assert screen.state(record).alive
    with pytest.raises(LaunchError, match="already exists"):
        screen.launch(spec(tmp_path, slug, "sleep 30\n"))
    screen.stop(record)
    assert not screen.session_exists(f"exp-{slug}")
    assert screen.session_exists(f"exp-{slug}-ablation")
