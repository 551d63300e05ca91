"""Run records under an unlucky user's hands: corrupted, deleted — never a traceback, never someone else's run."""

from __future__ import annotations

import json
import time

from workflow_helpers import (
    DEMO_SLUG,
    SEEDS_RUN,
    approve_with,
    deployed_and_ended,
    exprun,
    output,
    page_meta,
    snakemake,
)

from exprun.core.durations import page_hours

STATE = f"experiments/state/{DEMO_SLUG}"


def test_a_corrupt_run_record_is_one_line_and_status_goes_on(wiki_root, screen_available, cleanup_screens):
    record = deployed_and_ended(wiki_root)
    (wiki_root / STATE / "run.json").write_text('{"slug": "digits-mlp-vs-logreg", "backend": ')
    done = exprun(wiki_root, "collect", DEMO_SLUG)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "run.json: the run record cannot be read" in done.stderr
    assert f"attempts/{record['attempt']}/run.record.json" in done.stderr and "restores it" in done.stderr
    status = exprun(wiki_root, "status")
    assert status.returncode == 0 and "Traceback" not in output(status), output(status)
    assert "## Unreadable pages" in status.stdout and "the run record cannot be read" in status.stdout
    copy = wiki_root / STATE / "attempts" / str(record["attempt"]) / "run.record.json"
    (wiki_root / STATE / "run.json").write_bytes(copy.read_bytes())  # the command the message gives
    assert exprun(wiki_root, "collect", DEMO_SLUG).returncode == 0
    assert page_meta(wiki_root)["status"] == "completed"


def test_a_deleted_run_record_is_restored_never_taken_for_someone_elses_run(
    wiki_root, screen_available, cleanup_screens
):
    """Attack: delete run.json, then forge seed_1.json without a run id: a run someone else launched would count
    every file; exprun's own run is restored from its attempt copy and counts only what its guard started."""
    deployed_and_ended(wiki_root)
    (wiki_root / STATE / "run.json").unlink()
    (wiki_root / STATE / "deployed.stamp").unlink()  # the marker too: the attempt's copy still says whose run it is
    forged = wiki_root / "results" / DEMO_SLUG / "seed_1.json"
    forged.write_text(json.dumps({"seed": 1, "metrics": {"accuracy": 1.0}, "baseline_metrics": {"accuracy": 0.5}}))
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    report = (wiki_root / STATE / "RUN_REPORT.md").read_text()
    assert "not launched by exprun" not in report
    assert "seed 1: not counted — seed_1.json has no run_id" in report
    assert (wiki_root / STATE / "run.json").exists(), "restored from the attempt's copy"


def test_a_deleted_run_record_without_a_copy_is_refused_in_one_line(wiki_root, screen_available, cleanup_screens):
    record = deployed_and_ended(wiki_root)
    (wiki_root / STATE / "run.json").unlink()
    (wiki_root / STATE / "attempts" / str(record["attempt"]) / "run.record.json").unlink()
    done = exprun(wiki_root, "collect", DEMO_SLUG)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "exprun launched this run" in done.stderr and "never counted as someone else's run" in done.stderr
    assert page_meta(wiki_root)["status"] == "running"


CRASH_RUN = """#!/usr/bin/env bash
cd "$(dirname "$0")/../../.."
status=0
for seed in ${{EXPRUN_TASKS:-0 1 2}}; do
  echo "=== seed $seed ==="
  echo "Traceback (most recent call last):"
  echo "ValueError: Input contains NaN"
  echo "seed $seed failed with exit status 1"
  status=1
done
exit $status
"""


def test_a_run_that_crashed_before_any_seed_counted_can_be_retried(wiki_root, screen_available, cleanup_screens):
    """The crash report's advice must be a command that works: retry plans the page again with the crash kept,
    and deploy runs a new attempt; estimated_hours on the page is the wiki schema's integer (the record's figure
    rounded up, at least 1: a seconds-long demo reads 1), the figure itself stays in the record."""
    approve_with(wiki_root, run_sh=CRASH_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    on_page = page_meta(wiki_root)["estimated_hours"]
    figure = json.loads((wiki_root / STATE / "run.json").read_text())["details"]["estimated_hours"]
    assert type(on_page) is int and on_page >= 1 and figure > 0 and on_page == page_hours(figure)
    deadline = time.monotonic() + 60
    while not (wiki_root / STATE / "exit_status").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    report = (wiki_root / STATE / "RUN_REPORT.md").read_text()
    assert f"`exprun retry {DEMO_SLUG}`" in report, report
    assert page_meta(wiki_root)["status"] == "completed"

    retried = exprun(wiki_root, "retry", DEMO_SLUG)
    assert retried.returncode == 0, output(retried)
    meta = page_meta(wiki_root)
    assert meta["status"] == "planned" and meta["outcome"] == "" and meta["key_result"] == ""
    page = (wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    assert "Attempt 1 (run " in page and "crashed before any seed counted" in page and "traceback" in page
    assert (
        f"exp-run | retry {DEMO_SLUG} | attempt 1 crashed (traceback), no seed counted; planned again"
        in (wiki_root / "wiki" / "log.md").read_text()
    )
    assert (wiki_root / STATE / "attempts" / "1" / "collected.json").exists(), "the crashed attempt is kept aside"

    approve_with(wiki_root, run_sh=SEEDS_RUN)  # the fix, approved
    again = snakemake(wiki_root, f"full_{DEMO_SLUG}")
    assert again.returncode == 0, output(again)
    assert json.loads((wiki_root / STATE / "run.json").read_text())["attempt"] == 2
    assert page_meta(wiki_root)["status"] == "completed"
    refused = exprun(wiki_root, "retry", DEMO_SLUG)
    assert refused.returncode == 1 and "3 seed result(s) counted, so the result stands" in refused.stderr
