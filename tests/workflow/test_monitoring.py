"""Anomalies from real processes under screen, the one automatic fix, status and collect_ready."""

from __future__ import annotations

import json
import time

from test_deploy_collect import wait_for
from workflow_helpers import DEMO_SLUG, approve_with, edit_config, exprun, output, page_meta, prepare, snakemake

NAN_RUN = """#!/usr/bin/env bash
# Stand-in run: logs a NaN loss, keeps running; records the arguments it was started with.
cd "$(dirname "$0")/../../.."
echo "args: [$*]"
echo "step=1/10 epoch=1 loss=0.6931 lr=0.001"
echo "step=2/10 epoch=1 loss=nan lr=0.001"
echo started >> experiments/state/{slug}/launches
sleep 60
"""

KILLED_RUN = """#!/usr/bin/env bash
echo "step=1/10 epoch=1 loss=0.5 lr=0.001"
kill -KILL $$
"""

STALL_RUN = """#!/usr/bin/env bash
echo "step=1/10 epoch=1 loss=0.5 lr=0.001"
sleep 60
"""


def deploy_then_collect(root):
    """Deploy the stand-in run, wait until it has started, and collect once (where the automatic fix acts)."""
    assert snakemake(root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(root / "experiments" / "state" / DEMO_SLUG / "launches")
    first = snakemake(root, f"collect_{DEMO_SLUG}")
    assert first.returncode == 0, output(first)
    return first


def launches(root):
    path = root / "experiments" / "state" / DEMO_SLUG / "launches"
    return path.read_text().count("started") if path.exists() else 0


def test_nan_loss_gets_exactly_one_fix_with_half_the_learning_rate(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=NAN_RUN)
    first = deploy_then_collect(wiki_root)
    assert "Automatic fix applied: nan_loss → learning_rate 0.001 → 0.0005" in output(first)
    deadline = time.monotonic() + 20
    while launches(wiki_root) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert launches(wiki_root) == 2
    log = (wiki_root / "logs" / f"exp-{DEMO_SLUG}.log").read_text()
    assert "args: [--resume --lr 0.0005]" in log
    record = json.loads((wiki_root / "experiments" / "state" / DEMO_SLUG / "run.json").read_text())
    assert record["autofix"]["anomaly"] == "nan_loss" and record["autofix"]["args"] == ["--resume", "--lr", "0.0005"]
    assert (
        f"exp-run | autofix {DEMO_SLUG} | nan_loss → learning_rate 0.001 → 0.0005"
        in (wiki_root / "wiki" / "log.md").read_text()
    )

    second = snakemake(wiki_root, f"collect_{DEMO_SLUG}")  # the relaunched run logs NaN again
    assert second.returncode == 0, output(second)
    assert "No further automatic fix" in output(second) and "nan_loss" in output(second)
    time.sleep(0.5)
    assert launches(wiki_root) == 2, "never a second automatic fix"
    assert page_meta(wiki_root)["status"] == "running"


def test_killed_run_is_a_crash_not_completed(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=KILLED_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(wiki_root / "experiments" / "state" / DEMO_SLUG / "exit_status")
    done = snakemake(wiki_root, "collect_ready")
    assert done.returncode == 0, output(done)
    meta = page_meta(wiki_root)
    assert meta["status"] == "completed" and meta["outcome"] == "inconclusive"
    body = (wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    assert "exit status 137: killed by SIGKILL" in body
    assert "exp-status | running: 0, anomaly: 0, pending-collect: 1" in (wiki_root / "wiki" / "log.md").read_text()


def test_stall_shows_in_status_and_status_writes_no_page(wiki_root, screen_available, cleanup_screens):
    (wiki_root / "config" / "config.yaml").write_text("monitor:\n  stall_minutes: 0.02\n")
    approve_with(wiki_root, run_sh=STALL_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    time.sleep(2.0)
    dashboard = wiki_root / "wiki" / "outputs" / "exprun"

    def wiki_files() -> dict:  # every file of the wiki but the dashboard, which status regenerates
        return {
            p: p.read_bytes() for p in (wiki_root / "wiki").rglob("*") if p.is_file() and dashboard not in p.parents
        }

    before = wiki_files()
    done = snakemake(wiki_root, "status")
    assert done.returncode == 0, output(done)
    text = output(done)
    assert "# Experiment Status — " in text
    anomaly = text.split("## Anomaly")[1].split("##")[0]
    assert DEMO_SLUG in anomaly and "stalled" in anomaly
    assert wiki_files() == before
    shown = (dashboard / "index.html").read_text()
    assert f'id="row-{DEMO_SLUG}" data-group="anomaly"' in shown and "stalled" in shown


HELP_WITHOUT_LR = """#!/usr/bin/env bash
# A person's program: it takes the contract's required flags and --resume, but no --lr.
case " $* " in *" --help "*)
  echo "usage: run.sh --seed N --sanity --results-dir D --checkpoint-dir D --resume"; exit 0;; esac
""" + NAN_RUN.split("\n", 1)[1]


def test_the_fix_is_not_applied_when_the_program_lacks_the_flag(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=HELP_WITHOUT_LR, approve=False)
    prepare(wiki_root, DEMO_SLUG)  # the sanity run checks this run.sh
    flags = json.loads((wiki_root / "experiments" / "state" / DEMO_SLUG / "contract.json").read_text())["flags"]
    assert "--resume" in flags and "--lr" not in flags
    approve_with(wiki_root, approve=True)
    first = deploy_then_collect(wiki_root)
    assert "Automatic fix not applied: nan_loss → the program does not take --lr" in output(first)
    time.sleep(0.5)
    assert launches(wiki_root) == 1, "never relaunched unchanged"
    log = (wiki_root / "wiki" / "log.md").read_text()
    assert f"exp-run | autofix {DEMO_SLUG} | nan_loss → not applied: the program does not take --lr" in log
    second = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert "No further automatic fix: one was already tried on this experiment." in output(second)


def test_the_fix_relaunches_the_run_s_snapshot_whatever_was_approved_since(
    wiki_root, screen_available, cleanup_screens
):
    """Attack: while the run goes, the code is changed and approved again; the automatic fix must relaunch the
    run's own snapshot, planned from the snapshot's config.yaml — the new code never runs under the old run."""
    approve_with(wiki_root, run_sh=NAN_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for(wiki_root / "experiments" / "state" / DEMO_SLUG / "launches")
    edit_config(wiki_root, DEMO_SLUG, learning_rate=0.0001)
    approved = exprun(wiki_root, "approve", DEMO_SLUG)
    assert approved.returncode == 0, output(approved)
    first = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert first.returncode == 0, output(first)
    assert "Automatic fix applied: nan_loss → learning_rate 0.001 → 0.0005" in output(first), (
        "planned from the snapshot"
    )
    deadline = time.monotonic() + 20
    while launches(wiki_root) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert launches(wiki_root) == 2
    record = json.loads((wiki_root / "experiments" / "state" / DEMO_SLUG / "run.json").read_text())
    assert f"{record['snapshot']}/run.sh" in record["command"], "the relaunch runs the snapshot, not the live folder"
    second = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert second.returncode == 0 and "No further automatic fix" in output(second)
