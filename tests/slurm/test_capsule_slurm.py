"""A SLURM run's capsule: each array task's environment recorded on the compute node, by the job, before the
program starts; collect reads them from the shared filesystem and the page says what ran."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml
from test_workflow_slurm import example_wiki, shorten_and_approve

from dashboard_view import index_row, page_pairs
from snakemake_runs import with_profile

SLUG = "digits-mlp-vs-logreg"
ATTEMPT = f"experiments/state/{SLUG}/attempts/1"

snakemake = with_profile("slurm")


def status(root: Path) -> str:
    return yaml.safe_load((root / "wiki" / "experiments" / f"{SLUG}.md").read_text().split("---\n")[1])["status"]


def test_each_array_task_records_its_environment_on_the_node(slurm_cluster, tmp_path):
    root = example_wiki(tmp_path / "lab's wiki", "slurm:\n  time: '00:10:00'\n")
    done, out = snakemake(root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    shorten_and_approve(root, SLUG)
    done, out = snakemake(root, f"deploy_{SLUG}")
    assert done.returncode == 0, out
    job = re.search(r"squeue -r -j (\d+)", out).group(1)
    capsule = json.loads((root / ATTEMPT / "capsule.json").read_text())
    record = json.loads((root / "experiments" / "state" / SLUG / "run.json").read_text())
    assert capsule["env"] == "slurm" and capsule["hardware"]["slurm"] == record["history"][0]["resources"]
    assert capsule["hardware"]["slurm"]["time"] == "00:10:00", "what the wiki's config.yaml asked for each task"
    looked = subprocess.run(
        [sys.executable, "-m", "exprun", "status", "--root", str(root)], capture_output=True, text=True
    )
    assert looked.returncode == 0, looked.stderr
    assert index_row(root, SLUG)[0] in ("running", "ended"), "the dashboard status regenerated shows the job"
    assert page_pairs(root, SLUG)["Where"].startswith(f"slurm (job {job}")

    deadline = time.monotonic() + 180
    while status(root) == "running" and time.monotonic() < deadline:
        done, out = snakemake(root, f"collect_{SLUG}")
        assert done.returncode == 0, out
        time.sleep(1)
    assert status(root) == "completed", out
    assert index_row(root, SLUG)[0] == "completed", "collect regenerated the dashboard"
    assert page_pairs(root, SLUG)["Code hash"] == record["approved_hash"]

    starts = [json.loads(p.read_text()) for p in (root / ATTEMPT / "provenance").glob("*.json")]
    assert sorted(r["slurm_job"] for r in starts) == [f"{job}_{i}" for i in range(3)]
    envs = [json.loads((root / ATTEMPT / "environment" / r["environment"]["file"]).read_text()) for r in starts]
    seen = sorted(f"{env['slurm']['array_job_id']}_{env['slurm']['array_task_id']}" for env in envs)
    assert seen == [f"{job}_{i}" for i in range(3)], "each task recorded its environment inside its own job"
    assert all(env["slurm"]["node"] and env["cwd"] == str(root) for env in envs)
    block = (root / "wiki" / "experiments" / f"{SLUG}.md").read_text().split("### Reproduce", 1)[1]
    assert f"slurm on `{capsule['host']}`" in block and "Not trusted" not in block
    shown = subprocess.run(
        [sys.executable, "-m", "exprun", "reproduce", SLUG, "--root", str(root)], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert "EXPRUN_TASKS='0 1 2'" in shown.stdout
