"""`exprun status` over a wiki with one experiment in each state, real screen sessions, golden output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from exprun.core import config
from exprun.finish import status
from exprun.machines.launchers import screen
from exprun.machines.launchers.base import RunSpec

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "status.md"
NOW = datetime(2026, 11, 25, 12, 30, tzinfo=timezone.utc)
TEMPLATE = REPO / "examples" / "wiki" / "wiki" / "experiments" / "digits-mlp-vs-logreg.md"

pytestmark = pytest.mark.skipif(
    shutil.which("screen") is None and not os.environ.get("EXPRUN_REQUIRE_SERVICES"),
    reason="GNU screen not installed (apt-get install screen)",
)


def add_page(root: Path, slug: str, **fields) -> Path:
    text = TEMPLATE.read_text().replace("digits-mlp-vs-logreg", slug)
    for name, value in fields.items():
        text = text.replace(f'{name}: ""', f'{name}: "{value}"', 1).replace(f"{name}: planned", f"{name}: {value}", 1)
    path = root / "wiki" / "experiments" / f"{slug}.md"
    path.write_text(text)
    code = root / "experiments" / "code" / slug
    code.mkdir(parents=True)
    (code / "config.yaml").write_text(yaml.safe_dump({"seeds": [0], "primary_metric": "accuracy"}))
    return path


def start_run(root: Path, slug: str, log_lines: list[str], script: str) -> None:
    log = root / "logs" / f"exp-{slug}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("\n".join(log_lines) + "\n")
    state = root / "experiments" / "state" / slug
    record = screen.launch(RunSpec(slug, ["bash", "-c", script], root, log, state / "exit_status"))
    record.started_at = "2026-11-25T10:00:00+00:00"
    record.save(state / "run.json")


@pytest.fixture
def wiki(tmp_path):
    root = tmp_path / "wiki root"
    (root / "wiki" / "experiments").mkdir(parents=True)
    started = {"status": "running", "started": "2026-11-25T10:00", "run_log": "logs/x.log"}
    add_page(root, "status-golden-running", **started)
    add_page(root, "status-golden-anomaly", **started)
    add_page(root, "status-golden-pending", **started)
    add_page(
        root,
        "status-golden-done",
        status="completed",
        outcome="succeeded",
        date_completed="2026-11-24",
        key_result="accuracy 0.9800 ± 0.0010 over 3 seed(s)",
    )
    progress = ["step=50/100 epoch=1 loss=0.4000 lr=0.001", "eval epoch=1 accuracy=0.9100"]
    start_run(root, "status-golden-running", progress, "sleep 60")
    start_run(root, "status-golden-anomaly", progress + ["step=60/100 epoch=1 loss=nan lr=0.001"], "sleep 60")
    start_run(root, "status-golden-pending", progress, "exit 0")
    exit_file = root / "experiments" / "state" / "status-golden-pending" / "exit_status"
    for _ in range(200):
        if exit_file.exists():
            break
        subprocess.run(["sleep", "0.05"])
    yield root
    for slug in ("status-golden-running", "status-golden-anomaly"):
        if screen.session_exists(f"exp-{slug}"):
            subprocess.run(["screen", "-S", f"exp-{slug}", "-X", "quit"], capture_output=True)


def test_dashboard_matches_golden_and_writes_nothing(wiki):
    before = {p: p.read_bytes() for p in (wiki / "wiki").rglob("*") if p.is_file()}
    view = status.scan(config.parse({}), wiki, NOW)
    text = status.render(view)
    if os.environ.get("EXPRUN_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    assert [r["experiment"] for r in view["running"]] == ["status-golden-running"]
    assert [r["experiment"] for r in view["anomaly"]] == ["status-golden-anomaly"]
    assert [r["experiment"] for r in view["pending_collect"]] == ["status-golden-pending"]
    assert [r["experiment"] for r in view["recent"]] == ["status-golden-done"]
    assert {p: p.read_bytes() for p in (wiki / "wiki").rglob("*") if p.is_file()} == before


def test_status_json_for_agents(wiki):
    done = subprocess.run(
        [sys.executable, "-m", "exprun", "status", "--json", "--root", str(wiki)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert set(view) >= {"generated_at", "running", "anomaly", "pending_collect", "recent", "actions"}
    assert "snakemake collect_status-golden-pending" in view["actions"]
