"""`snakemake --profile profiles/remote`: deploy to a real sshd, collect back, page and log filled."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from snakemake_runs import with_profile

REPO = Path(__file__).resolve().parents[2]

SLUG = "digits-mlp-vs-logreg"


snakemake = with_profile("remote")


def example_lab(lab, config: str) -> None:
    """The bundled example wiki as the lab's wiki root, the server entering this venv, config.yaml saying `config`."""
    shutil.copytree(REPO / "examples" / "wiki", lab.root, dirs_exist_ok=True)
    lab.write_config(env_setup=f"source {REPO / '.venv' / 'bin' / 'activate'}")
    (lab.root / "config" / "config.yaml").write_text(config)


def meta(root):
    return yaml.safe_load((root / "wiki" / "experiments" / f"{SLUG}.md").read_text().split("---\n")[1])


def test_deploy_and_collect_through_the_remote_profile(lab):
    example_lab(lab, "collect:\n  poll_s: 1\n")
    done, out = snakemake(lab.root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    config = lab.root / "experiments" / "code" / SLUG / "config.yaml"
    config.write_text(config.read_text().replace("epochs: 20", "epochs: 2"))
    approve = subprocess.run(
        [sys.executable, "-m", "exprun", "approve", SLUG, "--root", str(lab.root)], capture_output=True, text=True
    )
    assert approve.returncode == 0, approve.stderr

    done, out = snakemake(lab.root, f"deploy_{SLUG}")
    assert done.returncode == 0, out
    assert "Environment: remote (127.0.0.1" in out and "tools/remote.py check --name" in out
    page = meta(lab.root)
    assert page["status"] == "running"
    assert page["remote"]["server"] == "127.0.0.1" and page["remote"]["session"] == f"exp-{SLUG}"
    assert page["remote"]["started"] and page["remote"]["completed"] == ""
    record = json.loads((lab.root / "experiments" / "state" / SLUG / "run.json").read_text())
    assert (lab.work_dir / record["snapshot"] / "train.py").exists(), "the server holds the approved snapshot"
    log = (lab.root / "wiki" / "log.md").read_text()
    assert f"exp-run | deployed {SLUG} | env: remote | server: 127.0.0.1 | gpu: none | eta:" in log

    exit_file = lab.work_dir / "experiments" / "state" / SLUG / "exit_status"
    deadline = time.monotonic() + 120
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert exit_file.read_text().strip() == "0"
    assert not (lab.root / "results" / SLUG).exists(), "results stay on the server until collected"

    status = subprocess.run(
        [sys.executable, "-m", "exprun", "status", "--json", "--root", str(lab.root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert [r["experiment"] for r in json.loads(status.stdout)["pending_collect"]] == [SLUG]
    watched = subprocess.run(
        [sys.executable, "-m", "exprun", "watch", "--root", str(lab.root)], capture_output=True, text=True, timeout=60
    )
    assert watched.returncode == 0, watched.stderr
    # the server's log, read over SSH as status reads it: each seed's section, the run's end
    assert f"{SLUG}: ended (exit status 0) · seed 0 ended at step" in watched.stdout
    assert "seed 2 ended at step" in watched.stdout

    done, out = snakemake(lab.root, f"collect_{SLUG}")
    assert done.returncode == 0, out
    assert "# Run Report" in out
    page = meta(lab.root)
    assert page["status"] == "completed" and page["remote"]["completed"]
    assert sorted(p.name for p in (lab.root / "results" / SLUG).glob("seed_*.json")) == [
        "seed_0.json",
        "seed_1.json",
        "seed_2.json",
    ]
    assert (lab.root / "logs" / f"exp-{SLUG}.log").read_text().count("done seed=") == 3


def test_a_run_the_wiki_s_agent_started_on_the_server_is_collected(lab):
    """No exprun record anywhere: the page's remote block names the server and session, run_log the log."""
    import shlex

    shutil.copytree(REPO / "examples" / "wiki", lab.root, dirs_exist_ok=True)
    page = lab.root / "wiki" / "experiments" / f"{SLUG}.md"
    text = page.read_text().replace("status: planned", "status: running", 1)
    text = text.replace('run_log: ""', f'run_log: "logs/exp-{SLUG}.log"', 1)
    text = text.replace('  server: ""', '  server: "127.0.0.1"', 1).replace(
        '  session: ""', f'  session: "exp-{SLUG}"', 1
    )
    page.write_text(text)
    (lab.work_dir / "logs").mkdir(parents=True)
    (lab.work_dir / "results" / SLUG).mkdir(parents=True)
    for seed, acc in ((0, 0.96), (1, 0.97), (2, 0.965)):
        (lab.work_dir / "results" / SLUG / f"seed_{seed}.json").write_text(
            json.dumps({"seed": seed, "metrics": {"accuracy": acc}, "baseline_metrics": {"accuracy": 0.90}})
        )
    log = lab.work_dir / "logs" / f"exp-{SLUG}.log"
    subprocess.run(
        [
            "screen",
            "-dmS",
            f"exp-{SLUG}",
            "bash",
            "-c",
            f"echo 'step=5/5 epoch=2 loss=0.2 accuracy=0.97' > {shlex.quote(str(log))}",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["screen", "-ls", f"exp-{SLUG}"], capture_output=True).returncode == 0
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    done, out = snakemake(lab.root, f"collect_{SLUG}")
    assert done.returncode == 0, out
    assert "not launched by exprun" in out
    page_meta = meta(lab.root)
    assert page_meta["status"] == "completed" and page_meta["outcome"] == "succeeded", page_meta
    assert page_meta["remote"]["completed"], "the remote block is completed as for exprun's own runs"
    assert (lab.root / "results" / SLUG / "seed_2.json").exists() and (lab.root / "logs" / f"exp-{SLUG}.log").exists()


def test_arms_on_the_server_in_parallel_with_the_per_task_fix(lab):
    """Arms × seeds on the real sshd, 2 at a time: the monitor reads each task's log on the server, the one fix
    reruns there only the task whose loss exploded, and every arm's results come home."""
    slug = "digits-mlp-ablation"
    example_lab(lab, "collect:\n  poll_s: 1\nparallel: 2\nautofix:\n  lr_factor: 1.0e-11\n")
    done, out = snakemake(lab.root, f"prepare_{slug}")
    assert done.returncode == 0, out
    path = lab.root / "experiments" / "code" / slug / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["seeds"], config["hyperparameters"]["epochs"] = [0, 1], 4
    config["arms"].append(
        {
            "name": "hot",
            "role": "sweep",
            "factor": "learning_rate=1e8",
            "overrides": {"hyperparameters": {"learning_rate": 1.0e8}},
        }
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    exprun = [sys.executable, "-m", "exprun"]
    assert subprocess.run([*exprun, "approve", slug, "--root", str(lab.root)], capture_output=True).returncode == 0
    deployed = subprocess.run(
        [
            *exprun,
            "deploy",
            slug,
            "--root",
            str(lab.root),
            "--profile",
            str(REPO / "profiles" / "remote"),
            "--skip-sanity",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    deadline = time.monotonic() + 300
    while meta_of(lab.root, slug)["status"] != "completed" and time.monotonic() < deadline:
        done, out = snakemake(lab.root, f"collect_{slug}")
        assert done.returncode == 0, out
        time.sleep(1)
    record = json.loads((lab.root / "experiments" / "state" / slug / "run.json").read_text())
    assert record["backend"] == "ssh" and record["env"]["EXPRUN_PARALLEL"] == "2"
    assert record["env"]["CUDA_VISIBLE_DEVICES"] == "", "a CPU page takes no GPU of the server"
    assert record["autofix"]["applied"] and record["autofix"]["anomaly"] == "exploding_loss"
    assert [h["tasks"] for h in record["history"] if h["event"] == "relaunch"] == [["hot:0", "hot:1"]]
    server_tasks = lab.work_dir / "logs" / f"exp-{slug}.tasks"
    assert "lr=0.001" in (server_tasks / "hot_seed1.log").read_text()
    assert (server_tasks / "full_seed0.exit").read_text().strip() == "0"
    for arm in ("full", "no-hidden-layer", "no-weight-decay", "hot"):
        assert sorted(p.name for p in (lab.root / "results" / slug / arm).glob("seed_*.json")) == [
            "seed_0.json",
            "seed_1.json",
        ]
    page = meta_of(lab.root, slug)
    assert page["remote"]["completed"] and "without hidden layer" in page["key_result"]


def meta_of(root, slug):
    return yaml.safe_load((root / "wiki" / "experiments" / f"{slug}.md").read_text().split("---\n")[1])
