"""The reproducibility capsule of a local run (real screen, real Snakemake), and a program that tries to write it."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
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

CODE = f"experiments/code/{DEMO_SLUG}"
STATE = f"experiments/state/{DEMO_SLUG}"
ATTEMPT = f"{STATE}/attempts/1"


def git(root, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def results_text(root) -> str:
    return (root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text().split("## Results", 1)[1]


def deploy_and_wait(root) -> dict:
    done = snakemake(root, f"deploy_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    deadline = time.monotonic() + 120
    while not (root / STATE / "exit_status").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (root / STATE / "exit_status").exists(), "the run never ended"
    return json.loads((root / STATE / "run.json").read_text())


def test_a_local_run_records_what_ran_and_reproduce_re_creates_it(wiki_root, screen_available, cleanup_screens):
    approve_with(wiki_root, run_sh=SEEDS_RUN)
    git(wiki_root, "init", "-q")
    git(wiki_root, "add", "-A")
    git(wiki_root, "commit", "-qm", "the wiki as approved")
    (wiki_root / CODE / ".notes").write_text("a person's note: never hashed, never run, but not committed\n")
    record = deploy_and_wait(wiki_root)
    capsule_file = wiki_root / ATTEMPT / "capsule.json"
    assert hashlib.sha256(capsule_file.read_bytes()).hexdigest() == record["capsule"], "the run record keeps its hash"
    capsule = json.loads(capsule_file.read_text())
    snapshot = wiki_root / record["snapshot"]
    assert capsule["approved_hash"] == record["approved_hash"] and capsule["snapshot"]["path"] == record["snapshot"]
    assert capsule["snapshot"]["files"]["run.sh"] == hashlib.sha256((snapshot / "run.sh").read_bytes()).hexdigest()
    assert capsule["git"]["commit"] and capsule["git"]["code_changes"] == [f"{CODE}/.notes"]
    assert capsule["seeds"] == [0, 1, 2] and capsule["tasks"] == ["0", "1", "2"]
    assert capsule["dataset"]["kind"] == "sklearn" and capsule["hardware"]["planned"] == "cpu"
    assert capsule["command"]["program"] == ["bash", f"{record['snapshot']}/run.sh"]

    envs = list((wiki_root / ATTEMPT / "environment").glob("*.json"))
    assert len(envs) == 1, "the guard recorded the environment where the run started, before it started"
    env = json.loads(envs[0].read_text())
    assert env["python"]["version"] == platform.python_version()
    assert any(line.lower().startswith("snakemake==") for line in env["packages"]["lines"])
    assert env["gpu"]["visible"] is False and "CUDA_VISIBLE_DEVICES is empty" in env["gpu"]["note"]

    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    assert page_meta(wiki_root)["status"] == "completed"
    block = results_text(wiki_root)
    assert "### Reproduce" in block and f"exprun reproduce {DEMO_SLUG} --attempt 1" in block
    assert f"Python {platform.python_version()}" in block and "code folder changed since that commit" in block
    assert "Not trusted" not in block
    collected = json.loads((wiki_root / STATE / "collected.json").read_text())
    assert collected["capsule"]["trusted"] is True

    shown = exprun(wiki_root, "reproduce", DEMO_SLUG)
    assert shown.returncode == 0, output(shown)
    commands = shown.stdout
    assert "--freeze > .reproduce/" in commands and "pip install -r .reproduce/" in commands
    frozen = exprun(wiki_root, "reproduce", DEMO_SLUG, "--attempt", "1", "--freeze")
    assert frozen.stdout.splitlines() == env["packages"]["lines"]
    # The last command re-runs the approved snapshot; its results go aside, never among the counted ones.
    counted = sorted(p.read_text() for p in (wiki_root / "results" / DEMO_SLUG).glob("seed_*.json"))
    again = subprocess.run(["bash", "-c", commands.strip().splitlines()[-1]], cwd=wiki_root, capture_output=True)
    assert again.returncode == 0, again.stderr
    redone = json.loads((wiki_root / ".reproduce" / f"{DEMO_SLUG}-a1" / "results" / "seed_2.json").read_text())
    assert redone["run_id"] == f"{record['run_id']}-reproduced"
    assert sorted(p.read_text() for p in (wiki_root / "results" / DEMO_SLUG).glob("seed_*.json")) == counted

    same = exprun(wiki_root, "diff", DEMO_SLUG, f"{DEMO_SLUG}@1", "--json")
    assert same.returncode == 0, output(same)
    found = json.loads(same.stdout)
    assert found["settings"] == [] and found["packages"]["changed"] == {} and found["code"]["changed"] == []


# The program tries to write exprun's provenance: it waits for the capsule, then rewrites it and every environment
# file of its attempt, and plants one more that no guard record names.
FORGING_RUN = """#!/usr/bin/env bash
cd "$(dirname "$0")/../../.."
attempt=experiments/state/{slug}/attempts/1
for i in $(seq 200); do [ -f "$attempt/capsule.json" ] && break; sleep 0.1; done
forged='{{"packages": {{"tool": "pip freeze", "lines": ["torch==9.9.9"]}}, "python": {{"version": "9.9.9"}}}}'
for f in "$attempt/capsule.json" "$attempt"/environment/*.json "$attempt/environment/0-planted.json"; do
  echo "$forged" > "$f"
done
out="${{EXPRUN_RESULTS_DIR}}"
mkdir -p "$out"
for seed in ${{EXPRUN_TASKS}}; do
  printf '{{"seed": %s, "metrics": {{"accuracy": 0.9}}, "baseline_metrics": {{"accuracy": 0.5}}, "run_id": "%s"}}\\n' \\
    "$seed" "$EXPRUN_RUN_ID" > "$out/seed_$seed.json"
done
"""


def test_the_program_cannot_write_the_capsule(wiki_root, screen_available, cleanup_screens):
    """Attack: the program rewrites capsule.json and its environment files; nothing it wrote is ever shown as
    what ran — the page says the capsule is not trusted and names the files, reproduce and diff refuse."""
    deployed_and_ended(wiki_root, run_sh=FORGING_RUN)
    assert "9.9.9" in (wiki_root / ATTEMPT / "capsule.json").read_text(), "the program did overwrite it"
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    block = results_text(wiki_root)
    assert "**Not trusted**" in block and "capsule.json changed after launch" in block
    assert "changed after the program started" in block
    assert "9.9.9" not in block and "planted" not in block
    for args in (("reproduce", DEMO_SLUG), ("reproduce", DEMO_SLUG, "--freeze"), ("diff", DEMO_SLUG, DEMO_SLUG)):
        refused = exprun(wiki_root, *args)
        assert refused.returncode == 1 and "cannot be trusted" in refused.stderr, output(refused)
        assert "9.9.9" not in refused.stdout and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_reproduce_of_a_page_never_deployed_is_one_line(wiki_root):
    refused = exprun(wiki_root, "reproduce", DEMO_SLUG)
    assert refused.returncode == 1, output(refused)
    assert refused.stderr.strip() == f"exprun: {DEMO_SLUG}: no run launched yet, so no capsule; deploy it first"
    bad = exprun(wiki_root, "diff", f"{DEMO_SLUG}@x", DEMO_SLUG)
    assert bad.returncode == 1 and "<slug>@<number>" in bad.stderr
