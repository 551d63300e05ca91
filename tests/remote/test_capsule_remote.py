"""A remote run's capsule: the environment is recorded on the server (the real sshd on 127.0.0.1), before the
program starts, inside the server's env_setup, and comes home with the results."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from dashboard_view import index_row, page_pairs
from snakemake_runs import with_profile

REPO = Path(__file__).resolve().parents[2]
SLUG = "digits-mlp-vs-logreg"
ATTEMPT = f"experiments/state/{SLUG}/attempts/1"

snakemake = with_profile("remote")


def test_a_remote_run_records_the_server_s_environment(lab):
    shutil.copytree(REPO / "examples" / "wiki", lab.root, dirs_exist_ok=True)
    lab.write_config(env_setup=f"source {REPO / '.venv' / 'bin' / 'activate'}")
    # run.sh finds `python3` on the PATH, which only the server's env_setup points at this venv
    (lab.root / "config" / "config.yaml").write_text("collect:\n  poll_s: 1\npython: python3\n")
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

    record = json.loads((lab.root / "experiments" / "state" / SLUG / "run.json").read_text())
    capsule = json.loads((lab.root / ATTEMPT / "capsule.json").read_text())
    assert capsule["env"] == "remote" and capsule["host"] == "127.0.0.1"
    assert capsule["command"]["cwd"] == str(lab.work_dir) and capsule["approved_hash"] == record["approved_hash"]
    assert not (lab.work_dir / ATTEMPT / "capsule.json").exists(), "the capsule stays on the submit host"

    exit_file = lab.work_dir / "experiments" / "state" / SLUG / "exit_status"
    deadline = time.monotonic() + 120
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert exit_file.read_text().strip() == "0"
    there = list((lab.work_dir / ATTEMPT / "environment").glob("*.json"))
    assert len(there) == 1, "the guard wrote the environment on the server"
    assert not (lab.root / ATTEMPT / "environment").exists(), "nothing is here before collect brings it"
    env = json.loads(there[0].read_text())
    assert env["cwd"] == str(lab.work_dir), "captured where the run ran: the server's work_dir"
    assert "DEFAULT_PYTHON=python3" in (lab.work_dir / record["snapshot"] / "run.sh").read_text()
    used = Path(env["python"]["prefix"]).resolve()
    assert used == (REPO / ".venv").resolve(), "by the interpreter the run uses (env_setup's venv)"

    looked = subprocess.run(
        [sys.executable, "-m", "exprun", "status", "--root", str(lab.root)], capture_output=True, text=True
    )
    assert looked.returncode == 0, looked.stderr
    assert index_row(lab.root, SLUG)[0] == "ended", "the dashboard status regenerated shows the run over SSH"
    assert page_pairs(lab.root, SLUG)["Where"] == "remote (127.0.0.1)"

    done, out = snakemake(lab.root, f"collect_{SLUG}")
    assert done.returncode == 0, out
    fields = yaml.safe_load((lab.root / "wiki" / "experiments" / f"{SLUG}.md").read_text().split("---\n")[1])
    group, words = index_row(lab.root, SLUG)
    assert group == "completed", "collect regenerated the dashboard"
    assert f"{fields['outcome']} {fields['key_result']}" in words, "with the outcome and the key result of the page"
    shown = page_pairs(lab.root, SLUG)
    assert shown["Code hash"] == record["approved_hash"], "the hash the run executed is the one shown as approved"
    assert "RUN_REPORT.md" in (lab.root / "wiki" / "outputs" / "exprun" / f"{SLUG}.html").read_text()
    home = lab.root / ATTEMPT / "environment" / there[0].name
    assert hashlib.sha256(home.read_bytes()).hexdigest() == hashlib.sha256(there[0].read_bytes()).hexdigest()
    page = (lab.root / "wiki" / "experiments" / f"{SLUG}.md").read_text()
    assert yaml.safe_load(page.split("---\n")[1])["status"] == "completed"
    block = page.split("### Reproduce", 1)[1].split("<!-- exprun:end results -->")[0]
    assert "remote on `127.0.0.1`" in block and f"Python {env['python']['version']}" in block
    assert "Not trusted" not in block
    shown = subprocess.run(
        [sys.executable, "-m", "exprun", "reproduce", SLUG, "--root", str(lab.root)], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert "ran on remote `127.0.0.1`" in shown.stdout and f"bash {record['snapshot']}/run.sh" in shown.stdout
