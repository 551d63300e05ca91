"""Arms × seeds through real Snakemake and real screen: tasks in parallel, each with its own log and exit
status; a failing task costs only its own seed, and the verdict rests on the intervals of the others."""

from __future__ import annotations

import json
import time

import yaml
from workflow_helpers import approve_with, exprun, output, page_meta, prepare, snakemake

SLUG = "digits-mlp-ablation"


def test_tasks_run_in_parallel_with_their_own_exit_status(wiki_root, screen_available, cleanup_screens):
    (wiki_root / "config" / "config.yaml").write_text("collect:\n  poll_s: 1\nparallel: 2\n")
    approve_with(wiki_root, SLUG, approve=False, epochs=3)
    path = wiki_root / "experiments" / "code" / SLUG / "config.yaml"
    config = yaml.safe_load(path.read_text())
    # passes the sanity run (which forces 1 epoch) and fails in the real run
    config["arms"].append(
        {
            "name": "broken",
            "role": "ablation",
            "factor": "a bad setting",
            "overrides": {"hyperparameters": {"epochs": -1}},
        }
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    prepare(wiki_root, SLUG)
    gate = snakemake(wiki_root, f"deploy_{SLUG}")
    assert "4 arms × 3 seeds = 12 tasks, 2 at a time" in output(gate)
    approve_with(wiki_root, SLUG)

    done = snakemake(wiki_root, f"full_{SLUG}", timeout=400)
    assert done.returncode == 0, output(done)

    tasks = wiki_root / "logs" / f"exp-{SLUG}.tasks"
    exits = {p.stem: p.read_text().strip() for p in tasks.glob("*.exit")}
    assert exits == {
        f"{arm}_seed{s}": ("1" if arm == "broken" else "0")
        for arm in ("full", "no-hidden-layer", "no-weight-decay", "broken")
        for s in (0, 1, 2)
    }
    assert "need batch_size >= 1, log_every >= 1, epochs >= 0" in (tasks / "broken_seed1.log").read_text()
    log = (wiki_root / "logs" / f"exp-{SLUG}.log").read_text()
    assert "started (slot 1" in log and "task broken:2 failed with exit status 1" in log
    meta = page_meta(wiki_root, SLUG)
    assert meta["status"] == "completed"
    assert "tasks that failed: broken:0 (exit 1), broken:1 (exit 1), broken:2 (exit 1)" in meta["key_result"]
    page = (wiki_root / "wiki" / "experiments" / f"{SLUG}.md").read_text()
    assert "| full | control |" in page and "| hidden layer | no-hidden-layer |" in page
    assert "- broken: seed 0 not counted — no result file" in page
    assert "fewer than 2 paired seeds for broken vs full" in page  # the broken arm leaves the verdict open
    assert sorted(p.name for p in (wiki_root / "results" / SLUG / "full").glob("seed_*.json")) == [
        "seed_0.json",
        "seed_1.json",
        "seed_2.json",
    ]


def test_the_automatic_fix_reruns_only_the_diverging_tasks_each_with_its_own_rate(
    wiki_root, screen_available, cleanup_screens
):
    """Two sweep arms whose loss explodes (learning rates 1e8 and 1e9): the run ends, then the one fix reruns
    exactly their tasks, each from its own rate × lr_factor, while the healthy tasks keep their first results."""
    (wiki_root / "config" / "config.yaml").write_text(
        "collect:\n  poll_s: 1\nparallel: 2\nautofix:\n  lr_factor: 1.0e-11\n"
    )
    approve_with(wiki_root, SLUG, approve=False, epochs=4)
    path = wiki_root / "experiments" / "code" / SLUG / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["seeds"] = [0, 1]
    config["arms"] += [
        {
            "name": f"lr={rate:g}",
            "role": "sweep",
            "factor": f"learning_rate={rate:g}",
            "overrides": {"hyperparameters": {"learning_rate": rate}},
        }
        for rate in (1e8, 1e9)
    ]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    # the sanity run would catch these rates (its loss must go down): a person overrides it, as a user may
    assert exprun(wiki_root, "approve", SLUG).returncode == 0
    deployed = exprun(wiki_root, "deploy", SLUG, "--skip-sanity")
    assert deployed.returncode == 0, output(deployed)
    tasks = wiki_root / "logs" / f"exp-{SLUG}.tasks"

    deadline = time.monotonic() + 300
    while page_meta(wiki_root, SLUG)["status"] != "completed" and time.monotonic() < deadline:
        checked = snakemake(wiki_root, f"collect_{SLUG}")
        assert checked.returncode == 0, output(checked)
        time.sleep(1)

    record = json.loads((wiki_root / "experiments" / "state" / SLUG / "run.json").read_text())
    assert record["autofix"]["applied"] and record["autofix"]["anomaly"] == "exploding_loss"
    assert record["env"]["CUDA_VISIBLE_DEVICES"] == "", "a CPU page takes no GPU"
    rerun = [h for h in record["history"] if h["event"] == "relaunch"]
    assert len(rerun) == 1 and rerun[0]["tasks"] == ["lr=1e+08:0", "lr=1e+08:1", "lr=1e+09:0", "lr=1e+09:1"]
    assert "task lr=1e+08:0: learning_rate 1e+08 → 0.001, restarted" in record["autofix"]["change"]
    assert "task lr=1e+09:1: learning_rate 1e+09 → 0.01, restarted" in record["autofix"]["change"]
    log = (wiki_root / "logs" / f"exp-{SLUG}.log").read_text()
    assert log.count("=== task full:0 started") == 1, "a healthy task is never rerun"
    assert log.count("=== task lr=1e+09:0 started") == 2
    rerun_log = (tasks / "lr=1e+09_seed0.log").read_text()  # the rerun's own log
    assert "lr=0.01" in rerun_log and "lr=1e+09" not in rerun_log
    assert f"exp-run | autofix {SLUG} | exploding_loss → task lr=1e+08:0" in (wiki_root / "wiki" / "log.md").read_text()
    meta = page_meta(wiki_root, SLUG)
    assert meta["status"] == "completed" and "failed" not in meta["key_result"]
    page = (wiki_root / "wiki" / "experiments" / f"{SLUG}.md").read_text()
    assert (
        "Rerun by the automatic fix (their numbers come from the rerun, with the changed setting): lr=1e+08:0" in page
    )
    assert "- automatic fix applied during the run: exploding_loss → task lr=1e+08:0" in page
    for name in ("lr=1e+08", "lr=1e+09"):
        results = [json.loads(p.read_text()) for p in (wiki_root / "results" / SLUG / name).glob("seed_*.json")]
        assert len(results) == 2 and all(r["metrics"]["accuracy"] > 0.8 for r in results)


def test_arms_times_seeds_as_snakemake_jobs(wiki_root):
    """full_via: jobs: one Snakemake job per arm × seed (here the local executor, 2 at a time), each with its
    own log and result file, then the same collect."""
    approve_with(wiki_root, SLUG, epochs=2)
    done = snakemake(wiki_root, f"full_{SLUG}", "--config", "full_via=jobs", "--cores", "2", timeout=400)
    assert done.returncode == 0, output(done)
    arms = ("full", "no-hidden-layer", "no-weight-decay")
    assert output(done).count("rule run_arm_seed:") == 9
    for arm in arms:
        for seed in (0, 1, 2):
            assert f"done seed={seed}" in (wiki_root / "logs" / f"exp-{SLUG}_{arm}_seed{seed}.log").read_text()
            assert (wiki_root / "results" / SLUG / arm / f"seed_{seed}.json").exists()
    meta = page_meta(wiki_root, SLUG)
    assert meta["status"] == "completed" and "without hidden layer" in meta["key_result"]
    run_log = (wiki_root / "logs" / f"exp-{SLUG}.log").read_text()  # the task logs combined for the page
    assert f"exp-{SLUG}_no-weight-decay_seed2.log" in run_log
