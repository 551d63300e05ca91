"""Notifications of a SLURM array (a real single-node cluster): each task's batch script calls exprun back after
its exit status, and the run's end goes out once — when its last task has ended — with nobody looking."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from notify_servers import webhook  # noqa: F401 - fixtures

pytestmark = [pytest.mark.service("slurm")]

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"
# Each array task runs one seed: seed 1 fails at once, seed 2 ends last.
TASKS_RUN = """#!/usr/bin/env bash
for seed in ${EXPRUN_TASKS:-0}; do
  echo "=== seed $seed ==="
  echo "step=1/1 epoch=1 loss=0.5 lr=0.001"
  if [ "$seed" = "1" ]; then echo "seed 1 failed with exit status 3"; exit 3; fi
  if [ "$seed" = "2" ]; then sleep 4; fi
done
"""


def test_the_array_tells_its_end_once_when_its_last_task_has_ended(slurm_cluster, tmp_path, webhook):  # noqa: F811
    from exprun.core import config
    from exprun.gate import approval
    from exprun.prepare.codegen import generate

    root = tmp_path / "lab's wiki"
    shutil.copytree(REPO / "examples" / "wiki", root)
    generate.generate(SLUG, config.load(root), root)
    (root / "experiments" / "code" / SLUG / "run.sh").write_text(TASKS_RUN)
    approval.approve(SLUG, root, who="ana")
    (root / "config").mkdir(exist_ok=True)
    settings = {"slurm": {"time": "00:10:00"}, "notify": [{"url": webhook.url(), "events": ["crashed", "ended"]}]}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(settings))

    deployed = subprocess.run(
        [sys.executable, "-m", "exprun", "deploy", SLUG, "--root", str(root), "--skip-sanity"]
        + ["--profile", str(REPO / "profiles" / "slurm")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    state = root / "experiments" / "state" / SLUG
    job = yaml.safe_load((state / "run.json").read_text())["session"]

    deadline = time.monotonic() + 120
    while not webhook.received and time.monotonic() < deadline:
        time.sleep(0.05)
    last_ended = (state / "exit_status_2").exists()
    assert webhook.received, "no message from the array's batch scripts"
    assert last_ended, "the run's end is told when its last task has ended, not its first"
    crash = webhook.received[0]
    assert crash["title"] == f"exprun: {SLUG} crashed" and crash["type"] == "failure"
    assert "what: nonzero_exit: exit status 3" in crash["message"]
    assert f"job {job})" in crash["message"] and "where: slurm (" in crash["message"]
    assert [(state / f"exit_status_{i}").read_text().strip() for i in range(3)] == ["0", "3", "0"]
    time.sleep(1.0)
    assert len(webhook.received) == 1, "three tasks, one message"
