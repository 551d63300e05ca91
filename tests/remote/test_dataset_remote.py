"""The dataset check and `exprun fetch-data` with the remote profile, against the real sshd.

The data lives only under the server's work_dir: the check looks there over one SSH connection (the
server's own python3, no exprun, no numpy), a missing dataset stops `prepare` with the confirmation
checklist, and the download runs on the server only when a person runs `exprun fetch-data`.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

import snakemake_runs
from exprun.core import config
from exprun.remote.session import RemoteSession
from exprun.workflow import steps

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "digits-mlp-vs-logreg"
SLUG = "remote-data"


def add_page(lab, data_path: str) -> Path:
    """The example wiki, plus a copy of its page whose setup.dataset names a file (→ config.yaml dataset.path)."""
    shutil.copytree(REPO / "examples" / "wiki", lab.root, dirs_exist_ok=True)
    pages = lab.root / "wiki" / "experiments"
    text = (pages / f"{TEMPLATE}.md").read_text()
    text = text.replace('"sklearn digits (load_digits), 20 % held-out test split"', f'"{data_path}"')
    (pages / f"{SLUG}.md").write_text(text.replace(TEMPLATE, SLUG))
    return pages / f"{SLUG}.md"


def exprun(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exprun", *args, "--root", str(lab.root)], capture_output=True, text=True, timeout=180
    )


def snakemake(lab, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    return snakemake_runs.run("remote", lab.root, *args)


def generate(lab) -> Path:
    done = exprun(lab, "rule", "generate", SLUG)
    assert done.returncode == 0, done.stderr
    return lab.root / "experiments" / "code" / SLUG / "config.yaml"


def state(lab, name: str) -> Path:
    return lab.root / "experiments" / "state" / SLUG / name


def edit_dataset(config_yaml: Path, **fields) -> None:
    """A person's edit of the generated config.yaml."""
    data = yaml.safe_load(config_yaml.read_text())
    data["dataset"].update(fields)
    config_yaml.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_dataset_only_on_the_server_passes_with_its_structure(lab):
    add_page(lab, "data/cloud.npz")
    assert yaml.safe_load(generate(lab).read_text())["dataset"]["path"] == "data/cloud.npz"
    (lab.work_dir / "data").mkdir()
    np.savez(lab.work_dir / "data" / "cloud.npz", X=np.ones((40, 6), dtype=np.float32), y=np.arange(40))
    settings = config.load(lab.root, "remote")
    before = RemoteSession.transports_opened
    line = steps.run("dataset", SLUG, settings, lab.root)
    assert RemoteSession.transports_opened - before == 1, "one SSH connection for the whole check"
    where = f"remote 127.0.0.1:{lab.work_dir}"
    record = json.loads(state(lab, "dataset.json").read_text())
    assert record["present"] is True and record["where"] == where
    assert record["path"] == str(lab.work_dir / "data" / "cloud.npz")
    assert record["format"] == "npz" and record["arrays"] == {"X": [40, 6], "y": [40]}
    assert record["dtypes"] == {"X": "float32", "y": "int64"}
    assert line.startswith(f"{SLUG}: dataset ok — {lab.work_dir / 'data' / 'cloud.npz'} ({where}, ")
    assert line.endswith("NPZ 2 array(s): X float32 (40, 6), y int64 (40,)")
    assert not (lab.root / "data").exists(), "nothing was looked for or written here"


def test_a_folder_on_the_server_is_listed(lab):
    add_page(lab, "data/shards.csv")
    edit_dataset(generate(lab), path=str(lab.work_dir / "shards"))  # absolute on the server
    for i in range(3):
        (lab.work_dir / "shards" / f"part {i}").mkdir(parents=True)
        (lab.work_dir / "shards" / f"part {i}" / "rows.jsonl").write_text('{"x": 1}\n' * (i + 1))
    done = exprun(lab, "rule", "dataset", SLUG, "--profile", "remote")
    assert done.returncode == 0, done.stderr
    record = json.loads(state(lab, "dataset.json").read_text())
    assert record["type"] == "folder" and record["file_count"] == 3
    assert [e["name"] for e in record["entries"]] == ["part 0/", "part 1/", "part 2/"]


def test_a_missing_dataset_stops_prepare_with_the_confirmation_checklist(lab):
    add_page(lab, "data/cloud.npz")
    done, out = snakemake(lab, f"prepare_{SLUG}")
    assert done.returncode != 0
    wanted = lab.work_dir / "data" / "cloud.npz"
    where = f"remote 127.0.0.1:{lab.work_dir}"
    headline = f"Dataset missing: {SLUG}: dataset not found: tried {wanted} ({where})."
    last_block = out.rsplit("=" * 72, 1)[-1]  # the last block on the screen, after the last rule line
    assert headline in last_block and out.count("has no dataset.download") == 1, out  # the checklist once, last
    assert f"relative paths are under work_dir {lab.work_dir} on 127.0.0.1" in last_block
    assert "has no dataset.download" in last_block and f"`exprun fetch-data {SLUG} --profile remote`" in last_block
    destination = shlex.quote(f"{lab.sshd['user']}@127.0.0.1:{wanted}")
    assert f"scp -r -P {lab.sshd['port']} <your copy> {destination}" in last_block
    assert state(lab, "GATE.md").read_text().startswith(headline)
    for later in ("sanity.json", "sanity.log", "approval.verified"):  # review does not wait for the data
        assert not state(lab, later).exists(), f"{later}: nothing downstream may run"


def test_the_missing_record_says_where_and_present_false(lab):
    add_page(lab, "data/cloud.npz")
    generate(lab)
    done = exprun(lab, "rule", "dataset", SLUG, "--profile", "remote")
    assert done.returncode == 1 and "dataset not found: tried" in done.stderr
    record = json.loads(state(lab, "dataset.json").read_text())
    assert record["present"] is False and record["where"] == f"remote 127.0.0.1:{lab.work_dir}"


def test_fetch_data_downloads_on_the_server_only_when_asked(lab):
    add_page(lab, "data/fetched.csv")
    edit_dataset(
        generate(lab),
        download='echo "env=$EXPRUN_TEST_ENV in $PWD"; printf "a,target\\n1,0\\n2,1\\n" > "$EXPRUN_DATASET_PATH"',
    )
    on_server, here = lab.work_dir / "data" / "fetched.csv", lab.root / "data" / "fetched.csv"

    done, out = snakemake(lab, f"prepare_{SLUG}")
    assert done.returncode != 0 and "dataset not found: tried" in out
    assert 'dataset.download: echo "env=$EXPRUN_TEST_ENV' in out
    assert f"`exprun fetch-data {SLUG} --profile remote` runs it on remote 127.0.0.1, in {lab.work_dir}, with" in out
    assert not on_server.exists() and not here.exists(), "the prepare step must never download"

    fetched = exprun(lab, "fetch-data", SLUG, "--profile", "remote")
    assert fetched.returncode == 0, fetched.stderr
    assert f"env=on in {lab.work_dir}" in fetched.stdout, "runs in work_dir, inside the server's env_setup"
    assert f"EXPRUN_DATASET_PATH={on_server}" in fetched.stdout
    assert on_server.read_text() == "a,target\n1,0\n2,1\n" and not here.exists()
    record = json.loads(state(lab, "dataset.json").read_text())
    assert record["present"] is True and record["rows"] == 2 and record["where"] == f"remote 127.0.0.1:{lab.work_dir}"
    assert not state(lab, "GATE.md").exists(), "the answered checklist is gone"

    again = exprun(lab, "fetch-data", SLUG, "--profile", "remote")
    assert again.returncode == 0 and "nothing downloaded" in again.stdout and "env=on" not in again.stdout


def test_fetch_data_refuses_without_a_download_command(lab):
    add_page(lab, "data/cloud.npz")
    generate(lab)
    done = exprun(lab, "fetch-data", SLUG, "--profile", "remote")
    assert done.returncode == 1
    assert done.stderr.startswith(f"exprun: experiments/code/{SLUG}/config.yaml: dataset.download is not set")
    assert not (lab.work_dir / "data").exists()


def test_slurm_submitted_over_ssh_looks_on_the_login_node_it_submits_to(lab):
    add_page(lab, "data/cloud.npz")
    generate(lab)
    (lab.work_dir / "data").mkdir()
    np.savez(lab.work_dir / "data" / "cloud.npz", X=np.ones((2, 2)), y=np.zeros(2))
    settings = config.load(lab.root, "slurm", {"slurm": {"submit": "ssh"}})
    assert "dataset ok" in steps.run("dataset", SLUG, settings, lab.root)
    record = json.loads(state(lab, "dataset.json").read_text())
    assert record["where"] == f"slurm login node 127.0.0.1:{lab.work_dir}" and record["arrays"]["X"] == [2, 2]
