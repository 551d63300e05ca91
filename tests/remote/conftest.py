"""A real OpenSSH sshd on 127.0.0.1 (scripts/test_sshd.py), a wiki root and a remote work_dir.

Both folders carry a space and a quote in their names, to prove the quoting all
the way through SFTP, the remote shell and screen. The client side gets its own
HOME (no ~/.ssh/config, known_hosts or agent of the machine leak in).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from exprun.machines.launchers import screen
from services import require_service

REPO = Path(__file__).resolve().parents[2]
SSHD_SCRIPT = REPO / "scripts" / "test_sshd.py"
NOT_INSTALLED = 3
SLUG = f"x{os.getpid()}"  # unique: screen sessions are shared by every process of this user

RUN_SH = """#!/usr/bin/env bash
# Prints progress like train.py does and writes one seed file, from the wiki root.
set -euo pipefail
cd "$(dirname "$0")/../../.."
echo "env=${EXPRUN_TEST_ENV:-unset} gpu=${CUDA_VISIBLE_DEVICES:-unset} args=$*"
for step in 1 2 3; do
  echo "step $step/3 epoch 0 loss=0.$((4 - step)) accuracy=0.9$step"
done
slug="$(basename "$(dirname "$0")")"
mkdir -p "results/$slug"
printf '{"slug": "%s", "seed": 0, "metrics": {"accuracy": 0.93}}\\n' "$slug" > "results/$slug/seed_0.json"
"""


@pytest.fixture(scope="session")
def fakebin(tmp_path_factory) -> Path:
    """Front of the ssh sessions' PATH: tests drop fake tools (nvidia-smi) here and remove them after."""
    return tmp_path_factory.mktemp("fakebin")


@pytest.fixture
def four_gpu_server(fakebin) -> Path:
    """The server's nvidia-smi answers with the captured 4-GPU box (GPU 0 free, the others busy), then is gone."""
    golden = Path(__file__).resolve().parents[1] / "golden" / "remote"
    fake = fakebin / "nvidia-smi"
    fake.write_text(f"""#!/bin/sh
case "$1" in
  --query-gpu=index,uuid) cat '{golden}/nvidia_smi_4gpu_uuids.csv' ;;
  --query-gpu=*) cat '{golden}/nvidia_smi_4gpu_gpus.csv' ;;
  --query-compute-apps=*) cat '{golden}/nvidia_smi_4gpu_apps.csv' ;;
esac
""")
    fake.chmod(0o755)
    yield fake
    fake.unlink()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory, fakebin) -> dict:
    """One real sshd for the whole session, stopped by its PID at the end."""
    require_service(
        "OpenSSH sshd",
        shutil.which("sshd") is not None or Path("/usr/sbin/sshd").exists(),
        "apt-get install openssh-server",
    )
    require_service("GNU screen", shutil.which("screen") is not None, "apt-get install screen")
    folder = tmp_path_factory.mktemp("sshd")
    path = f"{fakebin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    # The test server is this machine: its shells use this test process's screen sockets (tests/conftest.py),
    # so what a test starts "on the server" and what it starts here are the same sessions, and two test
    # processes deploying the same slug on their servers never meet.
    screens = ["--screendir", os.environ["SCREENDIR"]] if os.environ.get("SCREENDIR") else []
    done = subprocess.run(
        [sys.executable, str(SSHD_SCRIPT), "start", str(folder), "--path", path, *screens],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == NOT_INSTALLED:
        require_service("OpenSSH sshd", False, done.stderr.strip())
    assert done.returncode == 0, done.stdout + done.stderr
    info = json.loads(done.stdout)
    yield info
    subprocess.run([sys.executable, str(SSHD_SCRIPT), "stop", str(folder)], timeout=30)


@dataclass
class Lab:
    """A wiki root here, a work_dir 'there', and the server.yaml that joins them."""

    root: Path
    work_dir: Path
    home: Path
    sshd: dict

    @property
    def config(self) -> Path:
        return self.root / "config" / "server.yaml"

    def settings(self, **changes) -> dict:
        base = {
            "host": "127.0.0.1",
            "port": self.sshd["port"],
            "user": self.sshd["user"],
            "work_dir": str(self.work_dir),
            "identity_file": self.sshd["client_key"],
            "known_hosts": self.sshd["known_hosts"],
            "env_setup": "export EXPRUN_TEST_ENV=on",
            "ssh_options": {"ConnectTimeout": 5},
        }
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def write_config(self, **changes) -> Path:
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(yaml.safe_dump(self.settings(**changes)))
        return self.config

    def server(self, **changes):
        from exprun.remote import server_config

        self.write_config(**changes)
        return server_config.load(self.config, self.root)

    @property
    def code(self) -> Path:
        return self.root / "experiments" / "code" / SLUG

    @property
    def remote_code(self) -> Path:
        return self.work_dir / "experiments" / "code" / SLUG


def write_code(code: Path) -> None:
    """An experiment folder with hostile names and files the hash leaves out."""
    (code / "sub dir").mkdir(parents=True)
    (code / "run.sh").write_text(RUN_SH)
    (code / "train.py").write_text("print('train')\n")
    (code / "config.yaml").write_text("seeds: [0]\nlr: 0.01\n")
    (code / "requirements.txt").write_text("numpy\n")
    (code / 'my "odd" file\'s name.txt').write_text("quoted\n")
    (code / "sub dir" / "helper.py").write_text("X = 1\n")
    (code / "CONTEXT.md").write_text("not hashed\n")
    (code / ".hidden").write_text("not hashed\n")


@pytest.fixture
def lab(tmp_path, sshd, monkeypatch) -> Lab:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    root = tmp_path / 'lab\'s "wiki" root'
    work_dir = tmp_path / "remote work 'dir"
    write_code(root / "experiments" / "code" / SLUG)
    work_dir.mkdir()
    made = Lab(root, work_dir, home, sshd)
    made.write_config()
    before = set(screen.sessions())
    yield made
    # every run session the test started on the server (this machine) ends with the test, whatever its slug,
    # so the next test's deploy of the same slug does not find it still there
    started = {name for name in screen.sessions() if name.startswith("exp-")} - before
    for name in started:
        subprocess.run(["screen", "-S", name, "-X", "quit"], capture_output=True)
    deadline = time.monotonic() + 10
    while started & set(screen.sessions()) and time.monotonic() < deadline:
        time.sleep(0.05)
