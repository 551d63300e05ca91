"""Arms × seeds through real Snakemake and real screen: tasks in parallel, each with its own log and exit
status; a failing task costs only its own seed, and the verdict rests on the intervals of the others."""

from __future__ import annotations

import yaml

from workflow_helpers import approve_with, output, page_meta, snakemake

SLUG = "digits-mlp-ablation"


def test_tasks_run_in_parallel_with_their_own_exit_status(wiki_root, screen_available, cleanup_screens):
    (wiki_root / "config" / "config.yaml").write_text("collect:\n  poll_s: 1\nparallel: 2\n")
    approve_with(wiki_root, SLUG, approve=False, epochs=3)
    path = wiki_root / "experiments" / "code" / SLUG / "config.yaml"
    config = yaml.safe_load(path.read_text())
    # passes the sanity run (which forces 1 epoch) and fails in the real run
    config["arms"].append({"name": "broken", "role": "ablation", "factor": "a bad setting",
                           "overrides": {"hyperparameters": {"epochs": -1}}})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert snakemake(wiki_root, f"prepare_{SLUG}").returncode == 0
    gate = snakemake(wiki_root, f"deploy_{SLUG}")
    assert "4 arms × 3 seeds = 12 tasks, 2 at a time" in output(gate)
    approve_with(wiki_root, SLUG)

    done = snakemake(wiki_root, f"full_{SLUG}", timeout=400)
    assert done.returncode == 0, output(done)

    tasks = wiki_root / "logs" / f"exp-{SLUG}.tasks"
    exits = {p.stem: p.read_text().strip() for p in tasks.glob("*.exit")}
    assert exits == {f"{arm}_seed{s}": ("1" if arm == "broken" else "0")
                     for arm in ("full", "no-hidden-layer", "no-weight-decay", "broken") for s in (0, 1, 2)}
    assert "need batch_size >= 1, log_every >= 1, epochs >= 0" in (tasks / "broken_seed1.log").read_text()
    log = (wiki_root / "logs" / f"exp-{SLUG}.log").read_text()
    assert "started (slot 1" in log and "task broken:2 failed with exit status 1" in log
    meta = page_meta(wiki_root, SLUG)
    assert meta["status"] == "completed"
    assert "Tasks that failed: broken:0 (exit 1), broken:1 (exit 1), broken:2 (exit 1)" in meta["key_result"]
    page = (wiki_root / "wiki" / "experiments" / f"{SLUG}.md").read_text()
    assert "| full | control |" in page and "| hidden layer | no-hidden-layer |" in page
    assert "- broken: seed 0 not counted — no result file" in page
    assert "fewer than 2 paired seeds for broken vs full" in page  # the broken arm leaves the verdict open
    assert sorted(p.name for p in (wiki_root / "results" / SLUG / "full").glob("seed_*.json")) == [
        "seed_0.json", "seed_1.json", "seed_2.json"]
