"""A page deployed by the wiki's own agent (a plain `screen -dmS exp-<slug> …`, run_log set, no exprun run
record) is collected through real Snakemake: progress while it runs, then results, outcome and the page."""

from __future__ import annotations

import json
import shlex
import subprocess
import time

from workflow_helpers import DEMO_SLUG, exprun, output, page_meta, snakemake

SESSION = f"exp-{DEMO_SLUG}"


def deploy_by_hand(root, script: str) -> None:
    """What the wiki's /exp-run does without exprun: set the page running, start screen, log to run_log."""
    page = root / "wiki" / "experiments" / f"{DEMO_SLUG}.md"
    text = page.read_text()
    text = text.replace("status: planned", "status: running", 1)
    text = text.replace('run_log: ""', f'run_log: "logs/{SESSION}.log"', 1)
    page.write_text(text)
    (root / "logs").mkdir(exist_ok=True)
    log = root / "logs" / f"{SESSION}.log"
    subprocess.run(
        [
            "screen",
            "-dmS",
            SESSION,
            "bash",
            "-c",
            f"cd {shlex.quote(str(root))} && ({script}) > {shlex.quote(str(log))} 2>&1",
        ],
        check=True,
    )


def seed_file(seed: int, acc: float, base: float) -> str:
    data = {"seed": seed, "metrics": {"accuracy": acc, "f1_macro": acc - 0.01}, "baseline_metrics": {"accuracy": base}}
    return f"echo {shlex.quote(json.dumps(data))} > results/{DEMO_SLUG}/seed_{seed}.json"


def test_a_run_the_wiki_s_agent_started_is_collected(wiki_root, screen_available):
    assert not (wiki_root / "experiments" / "state" / DEMO_SLUG / "run.json").exists()
    script = "; ".join(
        [
            f"mkdir -p results/{DEMO_SLUG}",
            "echo 'step=1/3 epoch=1 loss=0.9'",
            "while [ ! -e go ]; do sleep 0.1; done",
            "echo 'step=3/3 epoch=1 loss=0.4'",
            seed_file(0, 0.97, 0.95),
            seed_file(1, 0.975, 0.951),
            seed_file(2, 0.972, 0.949),
        ]
    )
    deploy_by_hand(wiki_root, script)
    try:
        time.sleep(0.5)
        running = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
        assert running.returncode == 0, output(running)
        assert f"Experiment {DEMO_SLUG}: RUNNING" in output(running) and "step 1 / 3" in output(running)
        assert page_meta(wiki_root)["status"] == "running"
        status = exprun(wiki_root, "status", "--json")
        assert status.returncode == 0 and DEMO_SLUG in status.stdout, output(status)
        (wiki_root / "go").touch()
        deadline = time.monotonic() + 20
        while (
            subprocess.run(["screen", "-ls", SESSION], capture_output=True).returncode == 0
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
        assert done.returncode == 0, output(done)
    finally:
        subprocess.run(["screen", "-S", SESSION, "-X", "quit"], capture_output=True)
    text = output(done)
    assert "# Run Report" in text and "not launched by exprun" in text
    meta = page_meta(wiki_root)
    assert meta["status"] == "completed" and meta["outcome"] == "succeeded", meta
    assert "accuracy 0.9723 ± 0.0025 over 3 seed(s)" in meta["key_result"]
    page = (wiki_root / "wiki" / "experiments" / f"{DEMO_SLUG}.md").read_text()
    assert "This run was not launched by exprun" in page
    assert not (wiki_root / "experiments" / "state" / DEMO_SLUG / "run.json").exists(), "no record invented on disk"


def test_a_crash_of_a_run_the_wiki_s_agent_started_is_reported(wiki_root, screen_available):
    script = "; ".join(
        [
            "echo 'step=1/3 epoch=1 loss=0.9'",
            "echo 'Traceback (most recent call last):'",
            "echo '  File \"train.py\", line 9'",
            "echo 'ValueError: shapes do not match'",
        ]
    )
    deploy_by_hand(wiki_root, script)
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["screen", "-ls", SESSION], capture_output=True).returncode == 0 and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    done = snakemake(wiki_root, f"collect_{DEMO_SLUG}")
    assert done.returncode == 0, output(done)
    meta = page_meta(wiki_root)
    assert meta["status"] == "completed" and "ValueError: shapes do not match" in meta["key_result"]
