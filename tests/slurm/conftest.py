"""A real single-node SLURM cluster for the session, and a wiki root with a run.sh stand-in.

The cluster comes from scripts/slurm_cluster.sh (it installs slurm-wlm and munge when root).
Where it cannot start, tests that need it skip with the reason, or fail when
EXPRUN_REQUIRE_SERVICES is set (CI), so a broken cluster never passes silently.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from exprun.machines.launchers import slurm

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPT = REPO / "scripts" / "slurm_cluster.sh"
START_TIMEOUT_S = 600  # the first start may apt-get install slurm-wlm and munge

# What the generated run.sh does, reduced to what the launcher relies on: EXPRUN_SEEDS picks the
# seeds, extra arguments reach the program, progress lines, one result file per seed, an exit status.
RUN_SH = r"""#!/usr/bin/env bash
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/../../.."
SLUG="$(basename "$HERE")"
status=0
for seed in ${EXPRUN_SEEDS:-0 1 2}; do
  echo "=== seed $seed === args=[$*] CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-<unset>}"
  for step in 1 2 3; do echo "step=$step loss=0.$((10 - step))"; done
  sleep "${STANDIN_SLEEP:-0}"
  if [ "$seed" = "${STANDIN_FAIL_SEED:-none}" ] && [[ " $* " != *" --fix "* ]]; then
    echo "seed $seed failed on purpose"
    status=3
    continue
  fi
  mkdir -p "results/$SLUG"
  printf '{"seed": %s, "args": "%s", "job": "%s"}\n' "$seed" "$*" "${SLURM_ARRAY_JOB_ID:-}" \
    > "results/$SLUG/seed_$seed.json"
done
exit "$status"
"""


@pytest.fixture(autouse=True)
def one_slurm_test_at_a_time():
    """The cluster is one, and a run's job name is exp-<slug> whatever the wiki: two SLURM tests at once (on two
    test processes) collided on it. pytest-xdist's `xdist_group` would keep them on one process, but under pytest
    9.2 it no longer groups anything (it renames `item._nodeid`, which pytest stopped reading), so a lock file
    serialises them across processes whatever the plugins do."""
    with open(Path(tempfile.gettempdir()) / f"exprun-slurm-tests-{os.getuid()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _require_or_skip(reason: str) -> None:
    if os.environ.get("EXPRUN_REQUIRE_SERVICES"):
        pytest.fail(f"SLURM test cluster required (EXPRUN_REQUIRE_SERVICES) but unavailable: {reason}")
    pytest.skip(f"SLURM test cluster unavailable: {reason}")


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start the cluster once (one test process at a time asks); stop it at the end only if this test run
    started it — under parallel test processes, the process that began the run stops it (tests/conftest.py)."""
    try:
        with open(Path(tempfile.gettempdir()) / f"exprun-slurm-start-{os.getuid()}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = subprocess.run(
                ["bash", str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True, timeout=START_TIMEOUT_S
            )
    except subprocess.TimeoutExpired:
        _require_or_skip(f"`{CLUSTER_SCRIPT} start` took over {START_TIMEOUT_S} s")
    if done.returncode != 0:
        _require_or_skip(f"`{CLUSTER_SCRIPT} start` exited {done.returncode}: {done.stderr.strip()[-600:]}")
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in done.stdout.splitlines()
        if line.startswith("export ") and "=" in line
    )
    started_here = "already running" not in done.stderr
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env
    if started_here and os.environ.get("PYTEST_XDIST_WORKER"):
        (Path(os.environ["EXPRUN_TEST_PREPARED"]) / "slurm-started").touch()  # other processes may still use it
    elif started_here:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop"], capture_output=True, text=True, timeout=120)


class CountingRunner:
    """The local runner, remembering every argv and stdin so tests can count sbatch calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, argv, input=None):
        self.calls.append((list(argv), input))
        return slurm.local_runner(argv, input)

    def programs(self) -> list[str]:
        return [argv[0] for argv, _ in self.calls]

    def scripts(self) -> list[str]:
        return [text for argv, text in self.calls if argv[0] == "sbatch"]


@pytest.fixture
def runner() -> CountingRunner:
    return CountingRunner()


@pytest.fixture
def slug(request) -> str:
    """Unique per test and session: job names exp-<slug> never collide with a leftover job."""
    name = request.node.name.replace("_", "-").lower().removeprefix("test-")[:30].strip("-")
    return f"t{os.getpid()}-{name}"


@pytest.fixture
def wiki_root(tmp_path: Path, slug: str) -> Path:
    """A wiki root with a hostile name holding experiments/code/<slug>/run.sh."""
    root = tmp_path / 'wiki root\'s "lab" 100%'
    code = root / "experiments" / "code" / slug
    code.mkdir(parents=True)
    (code / "run.sh").write_text(RUN_SH)
    return root


def _wait_until_ended(record, runner, timeout: float = 45.0, poll: float = 0.25):
    """Poll the launcher's state until the run is no longer running; the last state seen."""
    deadline = time.monotonic() + timeout
    seen = slurm.state(record, runner)
    while seen.alive and time.monotonic() < deadline:
        time.sleep(poll)
        seen = slurm.state(record, runner)
    return seen


@pytest.fixture
def wait_ended():
    return _wait_until_ended
