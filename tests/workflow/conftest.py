"""Run the real workflow: `python -m snakemake` as a subprocess on a copy of the example wiki."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO_SLUG = "digits-mlp-vs-logreg"


def require_service(name: str, present: bool, how: str) -> None:
    """Skip when this machine lacks a service; under CI (EXPRUN_REQUIRE_SERVICES) fail instead."""
    if present:
        return
    message = f"{name} not available here ({how})"
    if os.environ.get("EXPRUN_REQUIRE_SERVICES"):
        pytest.fail(message + "; CI must provide it")
    pytest.skip(message)


@pytest.fixture
def screen_available() -> None:
    require_service("GNU screen", shutil.which("screen") is not None, "apt-get install screen")


@pytest.fixture
def wiki_root(tmp_path: Path) -> Path:
    """The example wiki in a folder whose name has a space and a quote, to prove the quoting."""
    root = tmp_path / "lab's wiki root"
    shutil.copytree(REPO / "examples" / "wiki", root)
    (root / "config").mkdir()
    (root / "config" / "config.yaml").write_text("collect:\n  poll_s: 1\n")
    return root


def snakemake(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--profile", str(REPO / "profiles" / "local"), "--directory", str(root), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def exprun(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exprun", *args, "--root", str(root)], capture_output=True, text=True, timeout=120)


def output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def page_meta(root: Path, slug: str = DEMO_SLUG) -> dict:
    text = (root / "wiki" / "experiments" / f"{slug}.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


def edit_config(root: Path, slug: str, **hyperparameters) -> None:
    """A person's edit of the generated config.yaml (e.g. fewer epochs for a fast test)."""
    path = root / "experiments" / "code" / slug / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["hyperparameters"].update(hyperparameters)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def cleanup_screens(wiki_root: Path):
    """Stop the sessions this test launched (found through its run records), and wait until gone."""
    yield
    from exprun.launchers import screen
    from exprun.launchers.base import RunRecord

    for run_file in (wiki_root / "experiments" / "state").glob("*/run.json"):
        record = RunRecord.load(run_file)
        if record is not None:
            screen.stop(record)
            deadline = time.monotonic() + 10
            while screen.session_exists(record.session) and time.monotonic() < deadline:
                time.sleep(0.05)
