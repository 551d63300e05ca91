"""Fixtures of the workflow tests (helpers live in workflow_helpers)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from workflow_helpers import REPO

from services import require_service


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


@pytest.fixture
def cleanup_screens(wiki_root: Path):
    """Stop the sessions this test launched (found through its run records), and wait until gone."""
    yield
    from exprun.machines.launchers import screen
    from exprun.machines.launchers.base import RunRecord

    for run_file in (wiki_root / "experiments" / "state").glob("*/run.json"):
        record = RunRecord.load(run_file)
        if record is not None:
            screen.stop(record)
            deadline = time.monotonic() + 10
            while screen.session_exists(record.session) and time.monotonic() < deadline:
                time.sleep(0.05)
