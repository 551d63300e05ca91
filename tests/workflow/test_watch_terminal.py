"""Watching a real deployed run: `exprun watch --collect` in a real terminal (tmux) while the run goes under real
screen — bars drawn and moving in place, the watch ending with the run and collecting it — and the wait of
`full_<slug>` saying the same in plain lines (its output goes through `tee` into the rule's log)."""

from __future__ import annotations

import re
import sys
from datetime import datetime

from workflow_helpers import DEMO_SLUG, approve_with, exprun, output, page_meta, snakemake

from terminal import Terminal

# A stand-in run.sh that logs its steps slowly (three seeds of ~2.4 s), then writes each seed's result where
# exprun says.
SLOW_SEEDS_RUN = """#!/usr/bin/env bash
cd "$(dirname "$0")/../../.."
out="${{EXPRUN_RESULTS_DIR:-results/{slug}}}"
mkdir -p "$out"
for seed in ${{EXPRUN_TASKS:-0 1 2}}; do
  echo "=== seed $seed ==="
  for step in 1 2 3 4 5 6; do
    echo "step=$step/6 epoch=1 loss=0.$((9 - step)) lr=0.001 accuracy=0.8$step"
    sleep 0.4
  done
  {{ printf '{{"seed": %s, "metrics": {{"accuracy": 0.9%s}}, ' "$seed" "$seed"
    printf '"baseline_metrics": {{"accuracy": 0.5}}, "run_id": "%s"}}\\n' "$EXPRUN_RUN_ID"; }} > "$out/seed_$seed.json"
done
"""


def progress_shown(text: str) -> int:
    """How far the run is on the screen: the percentages of its bars, added up."""
    return sum(int(share) for share in re.findall(r"^  seed \d .*?(\d+)% ", text, re.M))


def test_watch_shows_moving_bars_then_exits_with_the_run_and_collects_it(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=SLOW_SEEDS_RUN)
    deployed = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert deployed.returncode == 0, output(deployed)
    assert f"exprun watch {DEMO_SLUG}" in output(deployed), "the DEPLOY_REPORT says how to watch it"
    command = [sys.executable, "-m", "exprun", "watch", DEMO_SLUG, "--collect", "--interval", "0.3"]
    terminal = Terminal(command, wiki_root)
    try:
        first = terminal.wait_for(lambda text: re.search(r"^  seed \d .*\bstep \d/6", text, re.M), what="a bar")
        later = terminal.wait_for(lambda text: progress_shown(text) > progress_shown(first), what="the bars moving")
        for shown in (first, later):
            assert shown.count(f"{DEMO_SLUG}: running") == 1, "one view, refreshed in place"
            assert re.search(r"ETA ~\d+ s", shown) and "accuracy=0.8" in shown
            assert len(re.findall(r"^  seed [012] ━", shown, re.M)) == 3, "a bar per seed"
        assert terminal.exit_status(timeout=40) == 0
        final = terminal.screen()
    finally:
        terminal.close()
    assert re.search(rf"{DEMO_SLUG}: ended \(exit status 0\)", final)
    assert len(re.findall(r"^  seed [012] ━+ 100% done", final, re.M)) == 3, final
    assert re.search(rf"^collected {DEMO_SLUG}: (succeeded|failed|inconclusive) — accuracy", final, re.M), final
    assert page_meta(wiki_root)["status"] == "completed"


def test_the_wait_of_full_mode_says_how_each_seed_moves(wiki_root, screen_available, cleanup_screens):
    """`exprun rule wait`, the command of full_<slug>'s wait rule (deployed without a second sanity run of the
    stand-in: the wait is what is tested here)."""
    approve_with(wiki_root, run_sh=SLOW_SEEDS_RUN)
    deployed = exprun(wiki_root, "deploy", DEMO_SLUG, "--skip-sanity")
    assert deployed.returncode == 0, output(deployed)
    done = exprun(wiki_root, "rule", "wait", DEMO_SLUG)  # polls every second (the test wiki's config)
    assert done.returncode == 0, output(done)
    waited = [line for line in done.stderr.splitlines() if re.match(rf"\[\d\d:\d\d:\d\d\] {DEMO_SLUG}: ", line)]
    assert any(re.search(r"running .* · seed 0 done, seed 1 step \d/6, seed 2 pending", line) for line in waited)
    assert any(re.search(r"running .* · seed 0 done, seed 1 done, seed 2 step \d/6", line) for line in waited), waited
    # A line when a seed moves on; a line that only says more steps waits a poll (1 s) after the one before. How many
    # polls a run spans depends on the machine's load, so what is checked is the spacing, not a count.
    times = [datetime.strptime(line[1:9], "%H:%M:%S") for line in waited]
    phases = [re.sub(r"step \d/6", "step", line.split(" · ")[-1]) for line in waited]
    for i in range(1, len(waited)):
        if phases[i] == phases[i - 1]:
            apart = (times[i] - times[i - 1]).total_seconds()
            assert apart >= 1, f"steps alone, within one poll: {waited[i - 1 : i + 1]}"
    assert len(set(phases)) <= 6, "the seeds' moves: 0 step, 0 done/1 step, 1 done/2 step, 2 done (and pending)"
    assert "# Run Report" in done.stdout and page_meta(wiki_root)["status"] == "completed"
