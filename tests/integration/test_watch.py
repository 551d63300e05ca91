"""`exprun watch` on real runs under real screen: plain lines in a pipe (one per change, not per look), the live
view in a real terminal that Ctrl-C leaves while the run goes on, and the one-line refusals."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from test_status_dashboard import add_page, start_run

from exprun.machines.launchers import screen
from terminal import Terminal

pytestmark = pytest.mark.skipif(
    shutil.which("screen") is None and not os.environ.get("EXPRUN_REQUIRE_SERVICES"),
    reason="GNU screen not installed (apt-get install screen)",
)
SLUG = "watch-steps"
# three seeds one after the other, as run.sh logs them: a header, then the program's step lines
STEPS = (
    'for s in 0 1 2; do echo "=== seed $s ==="; '
    'for i in 1 2 3 4 5; do echo "step=$i/5 loss=0.$((9 - i)) accuracy=0.8$i"; sleep {pause}; done; done'
)


def running_page(root: Path, slug: str, script: str) -> None:
    """A running experiment of seeds 0-2 whose run (launched under screen as exprun launches) is `script`."""
    add_page(root, slug, status="running", started="2026-11-25T10:00", run_log=f"logs/exp-{slug}.log")
    config = {"seeds": [0, 1, 2], "primary_metric": "accuracy", "metrics": ["accuracy"]}
    (root / "experiments" / "code" / slug / "config.yaml").write_text(yaml.safe_dump(config))
    start_run(root, slug, [], script)
    run_json = root / "experiments" / "state" / slug / "run.json"
    record = json.loads(run_json.read_text())
    record["started_at"] = datetime.now(timezone.utc).isoformat()
    record["env"]["EXPRUN_TASKS"] = "0 1 2"
    run_json.write_text(json.dumps(record))


@pytest.fixture
def wiki(tmp_path):
    root = tmp_path / "lab's wiki"
    (root / "wiki" / "experiments").mkdir(parents=True)
    yield root
    for run_json in (root / "experiments" / "state").glob("*/run.json"):
        session = json.loads(run_json.read_text())["session"]
        subprocess.run(["screen", "-S", session, "-X", "quit"], capture_output=True)


def exprun(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exprun", *args, "--root", str(root)], capture_output=True, text=True, timeout=timeout
    )


def test_in_a_pipe_watch_prints_a_line_when_a_task_moves_on_and_exits_when_the_run_ends(wiki):
    running_page(wiki, SLUG, STEPS.format(pause="1.0"))  # a look can take a second on a loaded machine
    before = {p: p.read_bytes() for p in (wiki / "wiki").rglob("*") if p.is_file()}
    started = time.monotonic()
    done = exprun(wiki, "watch", "--interval", "0.2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    looks = (time.monotonic() - started) / 0.2
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] watch-steps: ", line) for line in lines[:-1]), lines
    said = "\n".join(lines)
    second = re.search(r"running .* · seed 0 ended at step 5/5, seed 1 step \d/5, seed 2 pending", said)
    third = re.search(r"running .* · seed 0 ended at step 5/5, seed 1 ended at step 5/5, seed 2 step \d/5", said)
    assert second and third and second.start() < third.start(), said
    assert (
        "watch-steps: ended (exit status 0) · seed 0 ended at step 5/5, seed 1 ended at step 5/5, seed 2 ended"
        in (lines[-2])
    )
    assert lines[-1] == "every watched run has ended; collect with `snakemake collect_watch-steps`"
    assert 4 <= len(lines) <= 7 < looks, "a line when a task starts or ends, not one per look"
    assert {p: p.read_bytes() for p in (wiki / "wiki").rglob("*") if p.is_file()} == before, "watch writes nothing"


def test_in_a_terminal_the_bars_move_in_place_and_ctrl_c_leaves_the_run_going(wiki):
    running_page(wiki, SLUG, STEPS.format(pause="1") + "; sleep 60")
    terminal = Terminal([sys.executable, "-m", "exprun", "watch", SLUG, "--root", str(wiki), "--interval", "0.3"], wiki)
    try:
        first = terminal.wait_for(lambda text: "seed 0" in text and "step " in text, what="a bar of seed 0")
        later = terminal.wait_for(lambda text: step_of(text) > step_of(first), what="the bars moving on")
        for screen_text in (first, later):
            assert screen_text.count("watch-steps: running") == 1, "refreshed in place, never printed again"
            assert "━" in screen_text and "Ctrl-C stops watching; the runs keep going." in screen_text
        terminal.keys("C-c")
        assert terminal.exit_status() == 0
        assert "stopped watching; the runs keep going" in terminal.screen()
        assert "Traceback" not in terminal.screen()
        assert screen.session_exists(f"exp-{SLUG}"), "Ctrl-C stops the watch, never the run"
    finally:
        terminal.close()


def step_of(text: str) -> int:
    """How far the run is on the screen: the percentages of its bars, added up."""
    return sum(int(share) for share in re.findall(r"^  seed \d .*?(\d+)% ", text, re.M))


def test_watching_what_is_not_running_is_refused_in_one_line(wiki):
    add_page(wiki, "watch-planned")
    done = exprun(wiki, "watch", "watch-planned")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "exprun: watch-planned: not deployed yet (status planned) — deploy first: `snakemake deploy_watch-planned`\n"
    )
    typo = exprun(wiki, "watch", "watch-plannd")
    assert typo.returncode == 1 and "planned or running experiments: watch-planned (planned)" in typo.stderr
    assert len(typo.stderr.splitlines()) == 1


def test_with_nothing_running_watch_says_so_and_exits(wiki):
    add_page(wiki, "watch-planned")
    done = exprun(wiki, "watch")
    assert done.returncode == 0
    assert done.stdout == "no running experiment that exprun deployed; `exprun status` lists every experiment\n"


def test_snakemake_watch_is_the_same_watch(wiki):
    running_page(wiki, SLUG, STEPS.format(pause="0.2"))
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--profile"]
        + [str(repo / "profiles" / "local"), "--directory", str(wiki), "watch"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^\[\d\d:\d\d:\d\d\] watch-steps: ended \(exit status 0\) · seed 0 ", done.stdout, re.M)
    assert "every watched run has ended; collect with `snakemake collect_watch-steps`" in done.stdout
