"""Preparing where the run will run, on a real sshd: which environment variables the code needs are set on the
server (inside env_setup, names only — a value never comes back or lands in a file), and the GPU memory rule
against the server's nvidia-smi."""

from __future__ import annotations

import pytest

from exprun.core import config
from exprun.core.errors import LaunchError
from exprun.core.files import atomic_write_json
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.machines import env_needs
from exprun.remote import server_config
from exprun.remote.session import RemoteSession
from exprun.run.backends import LaunchRequest
from exprun.run.ssh_backend import RemoteScreen

from .conftest import SLUG

SECRET = "sk-lab-s3cr3t-never-shown"


class GpuPage:
    """Just what the GPU rule reads of a page."""

    def get(self, key, default=None):
        return "1x H200" if key == "setup.hardware" else default


@pytest.fixture
def secret_server(lab, tmp_path):
    """The server's environment gets the key from a file only the server reads, through env_setup."""
    profile = tmp_path / "server-only" / "llm.env"
    profile.parent.mkdir()
    profile.write_text(f"export LAB_LLM_KEY='{SECRET}'\nexport LAB_EMPTY=''\n")
    lab.write_config(env_setup=f"export EXPRUN_TEST_ENV=on; source '{profile}'")
    return lab


@pytest.fixture
def outputs(monkeypatch):
    """Everything any command over SSH answered in this test."""
    seen: list[str] = []
    original = RemoteSession.run

    def recording(self, command, *args, **kwargs):
        code, out, err = original(self, command, *args, **kwargs)
        seen.extend([out, err])
        return code, out, err

    monkeypatch.setattr(RemoteSession, "run", recording)
    return seen


def files_holding(folder, text: str) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and text in p.read_text(errors="replace")]


def test_the_server_answers_only_which_names_are_set(secret_server, outputs):
    lab = secret_server
    (lab.code / "train.py").write_text('import os\nkey = os.environ["LAB_LLM_KEY"]\nurl = os.getenv("LAB_URL", "x")\n')
    needs = env_needs.scan(lab.code, ExperimentConfig.from_mapping({"requires_env": ["LAB_EMPTY", "LAB_ABSENT"]}))
    server = server_config.load(lab.config, lab.root)  # lab.server() would rewrite env_setup
    with RemoteSession(server) as session:
        found = env_needs.check_remote(needs, session, server)
    assert found.set_names == {"LAB_LLM_KEY"} and found.target == "127.0.0.1"
    assert [n.name for n in found.missing()] == ["LAB_EMPTY", "LAB_ABSENT"]
    assert "needs $LAB_LLM_KEY: set on 127.0.0.1 (train.py:2)" in found.lines()
    assert "needs $LAB_ABSENT: NOT SET on 127.0.0.1 (config.yaml requires_env)" in found.lines()
    assert outputs and not [o for o in outputs if SECRET in o], "a value came back over SSH"
    assert SECRET not in repr(found) and not files_holding(lab.root, SECRET) and not files_holding(lab.work_dir, SECRET)


def test_the_gate_checks_on_the_server_of_the_remote_profile(secret_server, outputs):
    lab = secret_server
    found = env_needs.check_for_deploy(
        lab.code,
        ExperimentConfig.from_mapping({"requires_env": ["LAB_LLM_KEY", "LAB_ABSENT"]}),
        config.parse({"env": "remote"}),
        lab.root,
    )
    assert found.lines() == [
        "needs $LAB_LLM_KEY: set on 127.0.0.1 (config.yaml requires_env)",
        "needs $LAB_ABSENT: NOT SET on 127.0.0.1 (config.yaml requires_env)",
    ]
    assert not [o for o in outputs if SECRET in o]


def test_the_gate_says_when_the_server_could_not_be_asked(lab, tmp_path):
    lab.write_config(port=1)  # nothing listens there
    found = env_needs.check_for_deploy(
        lab.code,
        ExperimentConfig.from_mapping({"requires_env": ["LAB_LLM_KEY"]}),
        config.parse({"env": "remote"}),
        lab.root,
    )
    assert found.set_names is None and found.missing() == []
    assert found.lines()[0].startswith("needs $LAB_LLM_KEY: not checked on the server (")


def test_a_remote_deploy_refuses_before_anything_is_copied(secret_server, outputs):
    lab = secret_server
    request = LaunchRequest(
        SLUG,
        lab.root,
        GpuPage(),
        ExperimentConfig.from_mapping({"requires_env": ["LAB_LLM_KEY", "LAB_ABSENT"]}),
        config.parse({"env": "remote"}),
        "hash",
        "run-1",
    )
    with pytest.raises(LaunchError) as err:
        RemoteScreen(lab.root)._launch(request)
    assert str(err.value).startswith(
        f"{SLUG}: the code needs environment variable(s) NOT SET on 127.0.0.1: "
        "LAB_ABSENT (config.yaml requires_env); export them in env_setup of "
        "config/server.yaml"
    )
    assert not lab.remote_code.exists() and not (lab.work_dir / "snapshots").exists(), "refused before the sync"
    assert SECRET not in str(err.value) and not [o for o in outputs if SECRET in o]


def test_the_servers_gpus_must_hold_the_sanity_peak_plus_the_margin(lab, fakebin):
    fake = fakebin / "nvidia-smi"
    fake.write_text("""#!/bin/sh
case "$1" in
  --query-gpu=index,uuid) printf '0, GPU-a\\n1, GPU-b\\n' ;;
  --query-gpu=*) printf '0, NVIDIA H200, 139771, 143771, 0, 30\\n1, NVIDIA H200, 136771, 143771, 0, 30\\n' ;;
  --query-compute-apps=*) ;;
esac
""")
    fake.chmod(0o755)
    lab.write_config(free_gpu_threshold_mib=150000)
    atomic_write_json(Paths(SLUG, lab.root).sanity, {"status": "passed", "code_hash": "hash", "gpu_peak_mib": 8192})
    request = LaunchRequest(
        SLUG,
        lab.root,
        GpuPage(),
        ExperimentConfig.from_mapping({"seeds": [0]}),
        config.parse({"env": "remote"}),
        "hash",
        "run-1",
    )
    try:
        with pytest.raises(LaunchError) as err:
            RemoteScreen(lab.root)._launch(request)
    finally:
        fake.unlink()
    assert str(err.value) == (
        "127.0.0.1: needs 1 GPU(s) with ≥ 9216 MiB free (sanity peak 8192 + margin 1024), < 150000 MiB used and "
        "no compute process, found 0; GPU 0: 4000 MiB free, GPU 1: 7000 MiB free; wait for one to free up, lower "
        "batch_size and rerun the sanity step, or choose another server in config/server.yaml"
    )
