"""`snakemake --profile profiles/slurm`: the approved run as one job array; collect completes the page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from services import require_service
from snakemake_runs import run, with_profile

REPO = Path(__file__).resolve().parents[2]

SLUG = "digits-mlp-vs-logreg"


snakemake = with_profile("slurm")


def example_wiki(root: Path, config: str) -> Path:
    """The bundled example wiki at `root`, its config/config.yaml saying `config`."""
    shutil.copytree(REPO / "examples" / "wiki", root)
    (root / "config").mkdir()
    (root / "config" / "config.yaml").write_text(config)
    return root


def shorten_and_approve(root: Path, slug: str, epochs: str = "epochs: 20") -> None:
    """A person's edit (2 epochs: a quick test) of the generated config, then the approval."""
    config = root / "experiments" / "code" / slug / "config.yaml"
    config.write_text(config.read_text().replace(epochs, "epochs: 2"))
    approve = subprocess.run(
        [sys.executable, "-m", "exprun", "approve", slug, "--root", str(root)], capture_output=True, text=True
    )
    assert approve.returncode == 0, approve.stderr


def meta(root):
    return yaml.safe_load((root / "wiki" / "experiments" / f"{SLUG}.md").read_text().split("---\n")[1])


def test_array_deploy_returns_at_once_and_collect_completes_the_page(slurm_cluster, tmp_path):
    root = example_wiki(tmp_path / "lab's wiki", "slurm:\n  time: '00:10:00'\n")
    done, out = snakemake(root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    shorten_and_approve(root, SLUG)

    done, out = snakemake(root, f"deploy_{SLUG}")
    assert done.returncode == 0, out
    assert "Environment: slurm (" in out and "squeue -r -j" in out
    job = re.search(r"squeue -r -j (\d+)", out).group(1)
    states = subprocess.run(["squeue", "-h", "-r", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout
    # deploy submits and returns: its tasks are still queued or running (a deploy that waited would find
    # them all ended) — a fact of the run, not a wall-clock limit a loaded machine could miss
    assert {"PENDING", "CONFIGURING", "RUNNING"} & set(states.split()), states
    page = meta(root)
    assert page["status"] == "running" and page["run_log"] == f"logs/exp-{SLUG}.log"  # one real file
    assert (root / page["run_log"]).read_text().startswith("# exprun: the 3 task logs of this run, combined")
    assert f"Task logs: logs/exp-{SLUG}_0.log, logs/exp-{SLUG}_1.log, logs/exp-{SLUG}_2.log" in out
    log = (root / "wiki" / "log.md").read_text()
    assert f"exp-run | deployed {SLUG} | env: slurm | cluster:" in log and "| job: " in log

    deadline = time.monotonic() + 180
    while meta(root)["status"] == "running" and time.monotonic() < deadline:
        done, out = snakemake(root, f"collect_{SLUG}")
        assert done.returncode == 0, out
        time.sleep(1)
    page = meta(root)
    assert page["status"] == "completed", out
    assert "over 3 seed(s)" in page["key_result"]
    assert sorted(p.name for p in (root / "results" / SLUG).glob("seed_*.json")) == [
        "seed_0.json",
        "seed_1.json",
        "seed_2.json",
    ]
    assert sorted(p.name for p in (root / "logs").glob(f"exp-{SLUG}_*.log")) == [
        f"exp-{SLUG}_{i}.log" for i in range(3)
    ]
    combined = (root / "logs" / f"exp-{SLUG}.log").read_text()
    for i in range(3):  # every task's log, under its own name, with what it printed
        part = combined.split(f"=== logs/exp-{SLUG}_{i}.log ===\n", 1)[1]
        assert "=== seed" in part.split("\n=== logs/")[0] or "step=" in part.split("\n=== logs/")[0]
    assert "Task logs (combined into" in out


def test_array_submitted_over_ssh_on_the_remote_login_node(slurm_cluster, tmp_path):
    """slurm.submit: ssh — sync, sbatch and the checks go through one SSH connection; results come back."""
    sshd_dir = tmp_path / "sshd"
    started = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "test_sshd.py"), "start", str(sshd_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    require_service("OpenSSH sshd", started.returncode != 3, started.stderr.strip() or "apt-get install openssh-server")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    try:
        root = example_wiki(tmp_path / "wiki here", "slurm:\n  time: '00:10:00'\n  submit: ssh\n")
        work_dir = tmp_path / "login node work"
        work_dir.mkdir()
        (root / "config" / "server.yaml").write_text(
            yaml.safe_dump(
                {
                    "host": "127.0.0.1",
                    "port": info["port"],
                    "user": info["user"],
                    "work_dir": str(work_dir),
                    "identity_file": info["client_key"],
                    "known_hosts": info["known_hosts"],
                    "env_setup": f"source {REPO / '.venv' / 'bin' / 'activate'}",
                }
            )
        )
        done, out = snakemake(root, f"prepare_{SLUG}")
        assert done.returncode == 0, out
        sanity = json.loads((root / "experiments" / "state" / SLUG / "sanity.json").read_text())
        assert sanity["where"] == "slurm (127.0.0.1)", "the sanity job was submitted on the login node over SSH"
        assert (work_dir / "experiments" / "state" / SLUG / "sanity" / "slurm_0.log").exists()
        shorten_and_approve(root, SLUG)
        done, out = snakemake(root, f"deploy_{SLUG}")
        assert done.returncode == 0, out
        record = json.loads((root / "experiments" / "state" / SLUG / "run.json").read_text())
        assert (work_dir / record["snapshot"] / "train.py").exists(), "the snapshot synced to the login node"
        assert not (work_dir / "experiments" / "code" / SLUG).exists(), "the live folder is not what runs"
        assert meta(root)["status"] == "running"
        deadline = time.monotonic() + 180
        while meta(root)["status"] == "running" and time.monotonic() < deadline:
            done, out = snakemake(root, f"collect_{SLUG}")
            assert done.returncode == 0, out
            time.sleep(1)
        assert meta(root)["status"] == "completed", out
        assert len(list((root / "results" / SLUG).glob("seed_*.json"))) == 3, "results pulled back over SSH"
        assert len(list((root / "logs").glob(f"exp-{SLUG}_*.log"))) == 3
        combined = (root / "logs" / f"exp-{SLUG}.log").read_text()
        assert combined.count("=== logs/") == 3 and "not here yet" not in combined, "fetched copies combined"
        provenance = list((root / "experiments" / "state" / SLUG / "attempts" / "1" / "provenance").glob("*.json"))
        assert len(provenance) == 3, "each array task's guard record came home from the login node"
    finally:
        subprocess.run([sys.executable, str(REPO / "scripts" / "test_sshd.py"), "stop", str(sshd_dir)], timeout=30)


def test_full_mode_runs_each_seed_as_a_snakemake_job_through_the_executor_plugin(slurm_cluster, tmp_path):
    """profiles/slurm-jobs: snakemake-executor-plugin-slurm places one job per seed, then collect."""
    root = tmp_path / "wiki"
    shutil.copytree(REPO / "examples" / "wiki", root)
    # the test cluster answers at once: no 40 s wait before the plugin's first look, 2 s between looks
    quick = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2")
    done, out = run("slurm-jobs", root, *quick, f"prepare_{SLUG}", timeout=300)
    assert done.returncode == 0, out
    shorten_and_approve(root, SLUG)
    done, out = run("slurm-jobs", root, *quick, f"full_{SLUG}", timeout=500)
    assert done.returncode == 0, out
    assert out.count("rule run_seed:") == 3 and out.count("submitted with SLURM jobid") >= 3, (
        "each seed went to SLURM as its own job"
    )
    page = meta(root)
    assert page["status"] == "completed" and "over 3 seed(s)" in page["key_result"]
    assert "env: snakemake jobs | seeds: 3" in (root / "wiki" / "log.md").read_text()
    assert sorted(p.name for p in (root / "logs").glob(f"exp-{SLUG}_seed*.log")) == [
        f"exp-{SLUG}_seed{i}.log" for i in range(3)
    ]


def test_arms_times_seeds_are_one_array(slurm_cluster, tmp_path):
    """The ablation page: 3 arms × 3 seeds submitted as ONE sbatch array of 9 tasks; collect gives the classes."""
    slug = "digits-mlp-ablation"
    root = example_wiki(tmp_path / "arms wiki", "slurm:\n  time: '00:10:00'\n")
    done, out = snakemake(root, f"prepare_{slug}")
    assert done.returncode == 0, out
    shorten_and_approve(root, slug, "epochs: 10")
    done, out = snakemake(root, f"deploy_{slug}")
    assert done.returncode == 0, out
    record = json.loads((root / "experiments" / "state" / slug / "run.json").read_text())
    from exprun.machines.launchers.slurm import SUBMIT_EVENT

    submits = [h for h in record["history"] if h.get("event") == SUBMIT_EVENT]
    assert record["details"]["array_size"] == 9 and len(submits) == 1, "one sbatch for every arm × seed"
    assert submits[0]["seeds"][:2] == ["full:0", "full:1"] and submits[0]["seeds"][-1] == "no-weight-decay:2"
    page = yaml.safe_load((root / "wiki" / "experiments" / f"{slug}.md").read_text().split("---\n")[1])
    deadline = time.monotonic() + 240
    while page["status"] == "running" and time.monotonic() < deadline:
        done, out = snakemake(root, f"collect_{slug}")
        assert done.returncode == 0, out
        page = yaml.safe_load((root / "wiki" / "experiments" / f"{slug}.md").read_text().split("---\n")[1])
        time.sleep(1)
    assert page["status"] == "completed", out
    for arm in ("full", "no-hidden-layer", "no-weight-decay"):
        assert sorted(p.name for p in (root / "results" / slug / arm).glob("seed_*.json")) == [
            "seed_0.json",
            "seed_1.json",
            "seed_2.json",
        ]
    assert (
        "without hidden layer: ESSENTIAL" in page["key_result"]
        or "without hidden layer: CONTRIBUTING" in page["key_result"]
    )


def test_the_sanity_run_is_a_short_job_on_the_cluster(slurm_cluster, tmp_path):
    """profiles/slurm: prepare submits the sanity run as one sbatch job with the task's resources and the
    sanity time limit, waits for it with the deploy's state logic, and checks its log and result here."""
    root = example_wiki(tmp_path / "lab's wiki", "sanity:\n  slurm_time: '00:05:00'\n")
    done, out = snakemake(root, f"prepare_{SLUG}")
    assert done.returncode == 0, out
    sanity = json.loads((root / "experiments" / "state" / SLUG / "sanity.json").read_text())
    assert sanity["status"] == "passed" and sanity["where"].startswith("slurm (")
    log = (root / "experiments" / "state" / SLUG / "sanity.log").read_text()
    assert log.startswith("[exprun] sanity job ") and "exprun slurm: job " in log and "done seed=0" in log
    accounting = subprocess.run(
        ["sacct", "-n", "-X", "-P", "--name", f"exp-{SLUG}-sanity", "-o", "JobName,Timelimit"],
        capture_output=True,
        text=True,
    )
    if accounting.returncode == 0 and accounting.stdout.strip():  # the test cluster may run without accounting
        assert "00:05:00" in accounting.stdout
