"""Deploy under real screen, collect while running and after the end, full mode, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml
from workflow_helpers import DEMO_SLUG, approve_with, hint, output, page_meta, snakemake

from wiki_lint import wiki_problems

FAKE_RUN = """#!/usr/bin/env bash
# A person replaced run.sh: a stand-in run that logs like train.py and then waits.
cd "$(dirname "$0")/../../.."
echo $$ > experiments/state/{slug}/fake.pid
for i in 1 2 3; do echo "step=$i/100 epoch=1 loss=0.$((9 - i)) lr=0.001"; done
echo "eval epoch=1 accuracy=0.5000 zoom room bloom"
sleep 60 &
echo $! > experiments/state/{slug}/child.pid
wait $!
"""


def wait_for(path, timeout=30):
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), path


def test_full_mode_end_to_end(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, epochs=2)
    idea = (wiki_root / "wiki" / "ideas" / "small-mlp-beats-linear-on-digits.md").read_bytes()
    done = snakemake(wiki_root, f"full_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    text = output(done)
    assert "DEPLOYED" in text and "# Run Report" in text
    meta = page_meta(wiki_root)
    assert meta["status"] == "completed"
    assert meta["outcome"] in ("succeeded", "failed", "inconclusive")
    assert "accuracy" in meta["key_result"] and "±" in meta["key_result"]
    assert str(meta["date_completed"]) == time.strftime("%Y-%m-%d", time.gmtime())
    page = (wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    assert "| Metric | Baseline | Ours (mean±std) | Δ |" in page and "| accuracy |" in page
    assert f"assets/{DEMO_SLUG}-seeds.png" in page
    assert (wiki_root / "wiki" / "experiments" / "assets" / f"{DEMO_SLUG}-seeds.png").stat().st_size > 1000
    assert "## Objective" in page and "## Follow-up" in page
    log = (wiki_root / "wiki" / "log.md").read_text()
    assert f"exp-run | deployed {DEMO_SLUG} | env: local | session: exp-{DEMO_SLUG} | eta:" in log
    assert f"exp-run | completed {DEMO_SLUG} | outcome: {meta['outcome']}" in log
    assert sorted(p.name for p in (wiki_root / "results" / DEMO_SLUG).glob("seed_*.json")) == [
        "seed_0.json",
        "seed_1.json",
        "seed_2.json",
    ]
    assert (wiki_root / "wiki" / "ideas" / "small-mlp-beats-linear-on-digits.md").read_bytes() == idea
    assert wiki_problems(wiki_root) == [], "a page exprun completed passes the wiki's own lint"
    read = subprocess.run(
        [
            sys.executable,
            "-m",
            "exprun",
            "wiki",
            "read-meta",
            str(wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"),
            "outcome",
        ],
        capture_output=True,
        text=True,
    )
    assert json.loads(read.stdout) == meta["outcome"]
    again = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert again.returncode != 0 and "already completed" in output(again)


def test_collect_while_running_touches_nothing_then_crash_is_reported(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=FAKE_RUN)
    assert snakemake(wiki_root, f"deploy_{DEMO_SLUG}").returncode == 0
    state = wiki_root / "experiments" / "state" / DEMO_SLUG
    wait_for(state / "child.pid")
    page = wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    before, log_before = page.read_bytes(), (wiki_root / "wiki" / "log.md").read_bytes()
    running = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert running.returncode == 0, output(running)
    text = output(running)
    assert f"Experiment {DEMO_SLUG}: RUNNING" in text and "step 3 / 100" in text
    assert "Anomalies: none" in text, "zoom/room/bloom are not OOM"
    assert page.read_bytes() == before and (wiki_root / "wiki" / "log.md").read_bytes() == log_before
    as_json = snakemake(wiki_root, f"collect_{DEMO_SLUG}", "--config", "json=true")
    report = next(json.loads(line) for line in as_json.stdout.splitlines() if line.startswith("{"))
    assert report["status"] == "running" and report["anomalies"] == [], "the same report, as JSON for agents"
    again = snakemake(wiki_root, f"deploy_{DEMO_SLUG}")
    assert again.returncode != 0 and f"already running — use `{hint(wiki_root, f'collect_{DEMO_SLUG}')}`" in output(
        again
    )
    assert snakemake(wiki_root, f"check_{DEMO_SLUG}").returncode == 0, "check_<slug> is collect_<slug>"

    os.kill(int((state / "child.pid").read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 20
    while not (state / "exit_status").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (state / "exit_status").read_text().strip() == "137"
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    text = output(done)
    assert "exit status 137" in text and "SIGKILL" in text
    meta = page_meta(wiki_root)
    assert meta["status"] == "completed" and meta["outcome"] == "inconclusive"
    assert "No usable results" in meta["key_result"]
    body = page.read_text()
    assert "Run ended abnormally: the run crashed (exit status 137" in body and "Suggested fix" in body
    yaml.safe_load(body.split("---\n")[1])
