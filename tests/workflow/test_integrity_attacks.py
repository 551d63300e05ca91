"""The gate and the verdict under attack, through real Snakemake runs, real screen and real files.

Each test is an unlucky user's or an attacker's move that the pipeline once let through.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from workflow_helpers import DEMO_SLUG, REPO, approve_with, edit_config, exprun, output, page_meta, prepare, snakemake

CODE = f"experiments/code/{DEMO_SLUG}"
STATE = f"experiments/state/{DEMO_SLUG}"

# A person's stand-in run.sh: every seed writes its result at once, as the run contract asks.
QUICK_RUN = """#!/usr/bin/env bash
cd "$(dirname "$0")/../../.."
mkdir -p results/{slug}
for seed in ${{EXPRUN_SEEDS:-0 1 2}}; do
  echo "step=1/1 epoch=1 loss=0.5 lr=0.001"
  {{ printf '{{"seed": %s, "metrics": {{"accuracy": 0.9%s}}, ' "$seed" "$seed"
    printf '"baseline_metrics": {{"accuracy": 0.5}}, "run_id": "%s"}}\\n' "$EXPRUN_RUN_ID"; }} \\
    > results/{slug}/seed_$seed.json
done
"""


def deployed_lines(root) -> list[str]:
    return [line for line in (root / "wiki" / "log.md").read_text().splitlines() if f"deployed {DEMO_SLUG}" in line]


def seed_job_log(root) -> str:
    """The log of the seed job Snakemake ran first (it stops at the first failure; the order is its own)."""
    logs = sorted((root / "logs").glob(f"exp-{DEMO_SLUG}_seed*.log"))
    assert logs, "a seed job must have started and said why it refused"
    return logs[0].read_text()


def wait_for_exit(root, timeout=120):
    deadline = time.monotonic() + timeout
    while not (root / STATE / "exit_status").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (root / STATE / "exit_status").exists()


def test_hand_written_jobs_stamp_runs_no_code(wiki_root):
    """Attack: mark the page running and write jobs.stamp by hand; full_via: jobs must run nothing."""
    approve_with(wiki_root, approve=False)
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    page.write_text(page.read_text().replace("status: planned", "status: running"))
    (wiki_root / STATE / "jobs.stamp").write_text("{}")
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}", "--config", "full_via=jobs")
    assert done.returncode != 0
    assert not list((wiki_root / "results").glob(f"{DEMO_SLUG}/seed_*.json")), "no seed may have run"
    log = seed_job_log(wiki_root)
    assert "no seed-job run was started" in log and "Traceback" not in log


def test_seed_jobs_run_the_snapshot_whatever_the_live_folder_holds(wiki_root):
    """Attack: seed jobs started, then config.yaml edited (keeping its mtime, so Snakemake sees nothing new); the
    next full_<slug> must run the approved snapshot, never the edit."""
    approve_with(wiki_root, epochs=2)
    started = snakemake(wiki_root, f"{STATE}/jobs.stamp", "--config", "full_via=jobs")
    assert started.returncode == 0, output(started)
    assert page_meta(wiki_root)["status"] == "running"
    record = json.loads((wiki_root / STATE / "run.json").read_text())
    config_file = wiki_root / CODE / "config.yaml"
    old = config_file.stat()
    edit_config(wiki_root, DEMO_SLUG, learning_rate=5.0)
    os.utime(config_file, ns=(old.st_atime_ns, old.st_mtime_ns))
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}", "--config", "full_via=jobs")
    assert done.returncode == 0, output(done)
    for seed in (0, 1, 2):
        data = json.loads((wiki_root / "results" / DEMO_SLUG / f"seed_{seed}.json").read_text())
        assert data["code_hash"] == record["approved_hash"], "the job ran the approved snapshot"
        assert "lr" not in data["overrides"] and data["metrics"]["accuracy"] > 0.5
    assert page_meta(wiki_root)["status"] == "completed"


def test_replanned_experiment_deploys_again_and_old_seeds_never_count(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=QUICK_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for_exit(wiki_root)
    first_run = json.loads((wiki_root / STATE / "run.json").read_text())["run_id"]
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    for status in ("abandoned", "planned"):
        moved = subprocess.run(
            [sys.executable, "-m", "exprun", "wiki", "transition", str(page), "--to", status],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert moved.returncode == 0, output(moved)
    again = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert again.returncode == 0, output(again)
    assert "DEPLOYED" in output(again) and "Nothing to be done" not in output(again)
    assert (wiki_root / "results" / DEMO_SLUG / "attempts" / "1" / "seed_0.json").exists(), "kept, moved aside"
    record = json.loads((wiki_root / STATE / "run.json").read_text())
    assert record["attempt"] == 2 and record["run_id"] != first_run
    wait_for_exit(wiki_root)
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    seeds = [json.loads((wiki_root / "results" / DEMO_SLUG / f"seed_{s}.json").read_text()) for s in (0, 1, 2)]
    assert {s["run_id"] for s in seeds} == {record["run_id"]}
    assert page_meta(wiki_root)["status"] == "completed"


def test_foreign_seed_files_are_listed_never_counted(wiki_root, screen_available, cleanup_screens):
    """Attack: seed_7.json (seeds are 0-2) and seed_01.json next to seed_1.json, claiming 100 % accuracy."""
    approve_with(wiki_root, run_sh=QUICK_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    wait_for_exit(wiki_root)
    run_id = json.loads((wiki_root / STATE / "run.json").read_text())["run_id"]
    for name in ("seed_7.json", "seed_01.json"):
        (wiki_root / "results" / DEMO_SLUG / name).write_text(
            json.dumps({"metrics": {"accuracy": 1.0}, "run_id": run_id})
        )
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    report = (wiki_root / STATE / "RUN_REPORT.md").read_text()
    assert "ignored (not a configured seed of this run): seed_01.json, seed_7.json" in report
    assert "0.9100±" in report, "mean of seeds 0-2 only (0.90, 0.91, 0.92)"


def test_a_linked_folder_edited_after_approval_is_stale(wiki_root, tmp_path):
    shared = tmp_path / "shared-helpers"
    shared.mkdir()
    (shared / "augment.py").write_text("STRENGTH = 0.1\n")
    prepare(wiki_root, DEMO_SLUG)
    (wiki_root / CODE / "helpers").symlink_to(shared, target_is_directory=True)
    assert exprun(wiki_root, "approve", DEMO_SLUG).returncode == 0
    (shared / "augment.py").write_text("STRENGTH = 9.0\n")
    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode != 0
    assert "stale" in output(done) and "helpers/augment.py" in output(done)


def test_hostile_frontmatter_slug_runs_nothing(wiki_root, tmp_path):
    pwned = tmp_path / "pwned"
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    page.write_text(page.read_text().replace(f'slug: "{DEMO_SLUG}"', f'slug: "$(touch {pwned})"'))
    done = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert done.returncode != 0
    assert f"set `slug: {DEMO_SLUG}`" in output(done)
    assert not pwned.exists()


def test_read_only_page_launches_nothing(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=QUICK_RUN)
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    page.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    refused = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert refused.returncode != 0 and "read-only" in output(refused) and "chmod u+w" in output(refused)
    assert "Traceback" not in output(refused)
    assert not (wiki_root / STATE / "run.json").exists() and not (wiki_root / "results" / DEMO_SLUG).exists()
    page.chmod(0o644)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    assert len(deployed_lines(wiki_root)) == 1


def test_exprun_deploy_needs_the_sanity_run_unless_overridden_visibly(wiki_root, screen_available, cleanup_screens):
    assert exprun(wiki_root, "rule", "generate", DEMO_SLUG).returncode == 0
    (wiki_root / CODE / "run.sh").write_text(QUICK_RUN.format(slug=DEMO_SLUG))
    assert exprun(wiki_root, "approve", DEMO_SLUG).returncode == 0
    refused = exprun(wiki_root, "deploy", DEMO_SLUG)
    assert refused.returncode == 1 and "--skip-sanity" in refused.stderr and "prepare_" in refused.stderr
    forced = exprun(wiki_root, "deploy", DEMO_SLUG, "--skip-sanity")
    assert forced.returncode == 0, output(forced)
    assert "Sanity: SKIPPED by --skip-sanity" in forced.stdout
    assert json.loads((wiki_root / STATE / "run.json").read_text())["sanity_skipped"] is True
    assert "sanity: skipped by --skip-sanity" in deployed_lines(wiki_root)[0]


def test_two_deploys_at_once_give_one_run(wiki_root, screen_available, cleanup_screens):
    from exprun.run import attempts

    approve_with(wiki_root, run_sh=QUICK_RUN.replace("done\n", "done\nsleep 30\n"))
    assert snakemake(wiki_root, f"{STATE}/approval.verified").returncode == 0
    argv = [sys.executable, "-m", "exprun", "deploy", DEMO_SLUG, "--root", str(wiki_root)]
    with attempts.deploy_lock(DEMO_SLUG, wiki_root):  # a deploy in progress elsewhere
        busy = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert busy.returncode == 1 and "already being deployed" in busy.stderr
    assert not (wiki_root / STATE / "run.json").exists() and page_meta(wiki_root)["status"] == "planned"
    racers = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    answers = [racer.communicate(timeout=120) for racer in racers]
    codes = [racer.returncode for racer in racers]
    assert codes.count(0) == 1, answers
    losers = " ".join(err for (_, err), code in zip(answers, codes, strict=False) if code)
    assert "already being deployed" in losers or "already running" in losers
    assert len(deployed_lines(wiki_root)) == 1
    sessions = subprocess.run(["screen", "-ls"], capture_output=True, text=True).stdout
    assert sessions.count(f".exp-{DEMO_SLUG}\t") == 1


def test_a_retry_after_the_page_write_failed_adopts_the_run(wiki_root, screen_available, cleanup_screens, monkeypatch):
    """The launch went through, then the page could not be written: the retry must not start a second run."""
    from exprun.core import config
    from exprun.run import deploy
    from exprun.wiki import pages

    approve_with(wiki_root, run_sh=QUICK_RUN.replace("done\n", "done\nsleep 30\n"))
    assert snakemake(wiki_root, f"{STATE}/approval.verified").returncode == 0
    real = pages.set_fields

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(args[0]))

    monkeypatch.setattr(pages, "set_fields", disk_full)
    settings = config.load(wiki_root)
    with pytest.raises(OSError):
        deploy.deploy(DEMO_SLUG, settings, wiki_root)
    first = json.loads((wiki_root / STATE / "run.json").read_text())
    assert first["page_written"] is False and page_meta(wiki_root)["status"] == "planned"
    monkeypatch.setattr(pages, "set_fields", real)
    data = deploy.deploy(DEMO_SLUG, settings, wiki_root)
    second = json.loads((wiki_root / STATE / "run.json").read_text())
    assert second["pid"] == first["pid"] and second["run_id"] == first["run_id"] == data["run_id"]
    assert second["page_written"] is True and page_meta(wiki_root)["status"] == "running"
    assert len(deployed_lines(wiki_root)) == 1


def test_errors_on_these_paths_are_one_line(wiki_root):
    approve_with(wiki_root, approve=False)
    (wiki_root / STATE / "approval.stamp").mkdir()
    done = exprun(wiki_root, "deploy", DEMO_SLUG)
    assert done.returncode == 1 and "is a folder" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    (wiki_root / STATE / "approval.stamp").rmdir()
    assert exprun(wiki_root, "approve", DEMO_SLUG).returncode == 0
    (wiki_root / "logs").mkdir(exist_ok=True)
    os.rename(wiki_root / "logs", wiki_root / "logs-moved")
    (wiki_root / "logs").write_text("a file where the log folder belongs\n")
    done = exprun(wiki_root, "deploy", DEMO_SLUG)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "logs" in done.stderr and "move that file away" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert REPO.exists()
