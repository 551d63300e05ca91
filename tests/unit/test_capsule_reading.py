"""Reading capsules back: the page's Reproduce part, `exprun reproduce`, `exprun diff`, and files changed after
exprun wrote them (never used)."""

from __future__ import annotations

import copy
import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from exprun.core.paths import Paths
from exprun.finish import capsule_diff, reproduce
from exprun.machines.launchers.base import Backend, RunRecord
from exprun.run import capsule, capsule_read
from exprun.run.capsule_read import CapsuleError
from exprun.trust import integrity, provenance

SLUG = "digits-mlp"

ENVIRONMENT = {
    "captured_at": "2026-01-02T03:04:05Z",
    "host": "gpu-box",
    "cwd": "/srv/wiki",
    "python": {"version": "3.11.7", "implementation": "CPython", "executable": "/srv/venv/bin/python"},
    "os": {"distribution": "Debian GNU/Linux 12 (bookworm)", "machine": "x86_64", "release": "6.1.0"},
    "packages": {"tool": "pip freeze", "lines": ["numpy==1.26.4", "foo==1.0", "scikit-learn==1.5.0"]},
    "conda": None,
    "gpu": {
        "visible": True,
        "driver": "550.54",
        "cuda": "12.4",
        "torch_cuda": "12.1",
        "devices": [{"index": 0, "name": "NVIDIA H200", "memory_total_mib": 143771}],
    },
}


def capsule_data(record: RunRecord, files: dict) -> dict:
    return {
        "version": 1,
        "slug": SLUG,
        "attempt": record.attempt,
        "run_id": record.run_id,
        "backend": "screen",
        "env": "local",
        "host": "gpu-box",
        "launched_at": "2026-01-02T03:04:00+00:00",
        "approved_hash": record.approved_hash,
        "snapshot": {"path": record.snapshot, "files": files},
        "git": {"commit": "a" * 40, "code_dirty": False},
        "command": {"env": {"EXPRUN_TASKS": "0 1 2", "EXPRUN_PARALLEL": "1", "CUDA_VISIBLE_DEVICES": "0"}},
        "interpreter": {"activate": "", "python": "python3", "from": "run.sh"},
        "dataset": {"kind": "path", "path": "/srv/wiki/data/x.csv", "where": "local", "size_bytes": 1200,
                    "file_count": 1, "content_sha256": "c" * 64},
        "seeds": [0, 1, 2],
        "tasks": ["0", "1", "2"],
        "arms": [],
        "hyperparameters": {"lr": 0.001, "epochs": 20},
        "hardware": {"planned": "1 GPU", "gpu_ids": [0]},
        "settings": {"parallel": 0},
    }  # fmt: skip


def make_attempt(root: Path, attempt: int, config: str = "lr: 0.001\n", env: dict | None = ENVIRONMENT, **changes):
    """An attempt as a launch leaves it: the snapshot, the capsule (its hash in the record), the guard's record
    and environment file (its hash in that record)."""
    code = root / "code-src"
    code.mkdir(parents=True, exist_ok=True)
    (code / "run.sh").write_text("#!/usr/bin/env bash\necho run\n")
    (code / "config.yaml").write_text(config)
    approved = integrity.folder_hash(code)
    snap = f"snapshots/{approved[:16]}/{SLUG}"
    if not (root / snap).exists():
        (root / snap).parent.mkdir(parents=True, exist_ok=True)
        (root / snap).mkdir()
        for name in ("run.sh", "config.yaml"):
            (root / snap / name).write_bytes((code / name).read_bytes())
    record = RunRecord(
        SLUG, Backend.SCREEN, f"exp-{SLUG}", 1, "2026", "gpu-box", "", [], str(root), "log", "exit",
        approved_hash=approved, attempt=attempt, run_id=f"{SLUG}-a{attempt}-0000", snapshot=snap,
    )  # fmt: skip
    data = capsule_data(record, integrity.file_hashes(root / snap))
    for key, value in changes.items():
        data[key] = value
    record.capsule = capsule.write(root, record, data)
    record.save(Paths(SLUG, root).run)
    folder, envs = root / provenance.record_dir(SLUG, attempt), root / provenance.environment_dir(SLUG, attempt)
    folder.mkdir(parents=True, exist_ok=True)
    envs.mkdir(parents=True, exist_ok=True)
    start = {"run_id": record.run_id, "approved_hash": approved, "tasks": ["0", "1", "2"], "host": "gpu-box"}
    start["started_at"] = f"2026-01-02T03:04:0{attempt}Z"
    if env is None:
        start["environment"] = {"error": "the environment probe failed (exit 127): python3: not found"}
    else:
        raw = json.dumps(env).encode()
        name = f"{attempt}-gpu-box-1.json"
        (envs / name).write_bytes(raw)
        start["environment"] = {"file": name, "sha256": hashlib.sha256(raw).hexdigest()}
    (folder / f"{attempt}-gpu-box-1.json").write_text(json.dumps(start))
    return record


def test_the_page_says_what_ran_in_a_few_lines(tmp_path):
    make_attempt(tmp_path, 1)
    found = capsule_read.load(tmp_path, SLUG)
    assert not found.problems and found.environment == ENVIRONMENT
    block = reproduce.page_block(found)
    assert block.splitlines()[0] == "### Reproduce"
    assert "- Run `digits-mlp-a1-0000` (attempt 1): local on `gpu-box`" in block
    assert "snapshot `snapshots/" in block and "(2 files); wiki commit `aaaaaaaaaa` (code folder clean)" in block
    assert (
        "- Environment: Python 3.11.7, 3 packages (pip freeze); Debian GNU/Linux 12 (bookworm) (x86_64); "
        "GPU 0: NVIDIA H200; driver 550.54; CUDA 12.4; torch built for CUDA 12.1" in block
    )
    assert "- Data: `/srv/wiki/data/x.csv` (local): 1.2 KB, 1 file, sha256 `cccccccccccccccc`" in block
    assert "- Seeds 0 1 2; hardware: 1 GPU (GPU 0)" in block
    assert f"`exprun reproduce {SLUG} --attempt 1`" in block and len(block.splitlines()) <= 9


def test_reproduce_prints_commands_that_use_the_snapshot_and_the_recorded_packages(tmp_path):
    make_attempt(tmp_path, 1)
    found = capsule_read.load(tmp_path, SLUG, 1)
    text = reproduce.commands(found, tmp_path)
    place = f".reproduce/{SLUG}-a1"
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[0] == f"cd {shlex.quote(str(tmp_path.resolve()))}"
    assert f"python3.11 -m venv {place}/venv   # Python 3.11.7 ran it" in lines
    assert f"exprun reproduce {SLUG} --attempt 1 --freeze > {place}/requirements.txt" in lines
    assert f"{place}/venv/bin/pip install -r {place}/requirements.txt" in lines
    run = lines[-1]
    assert run.endswith(f"bash {found.data['snapshot']['path']}/run.sh")
    assert "EXPRUN_TASKS='0 1 2'" in run and f'EXPRUN_RESULTS_DIR="$PWD"/{place}/results' in run
    assert "# it ran on GPU 0: set CUDA_VISIBLE_DEVICES to free ones here" in text
    assert reproduce.freeze(found) == "numpy==1.26.4\nfoo==1.0\nscikit-learn==1.5.0\n"
    with pytest.raises(CapsuleError, match="not run in a conda environment"):
        reproduce.conda_list(found)


def test_a_conda_run_is_re_created_with_conda(tmp_path):
    env = {**ENVIRONMENT, "conda": {"prefix": "/opt/conda/envs/lab", "env": "lab", "lines": ["numpy=1.26.4=py311"]}}
    make_attempt(tmp_path, 1, env=env)
    found = capsule_read.load(tmp_path, SLUG)
    text = reproduce.commands(found, tmp_path)
    assert f"conda create -y -p .reproduce/{SLUG}-a1/env --file .reproduce/{SLUG}-a1/conda.txt" in text
    assert f".reproduce/{SLUG}-a1/env/bin/pip install -r" in text
    assert reproduce.conda_list(found) == "numpy=1.26.4=py311\n"
    assert "in conda env `lab`" in reproduce.page_block(found)


def test_an_environment_file_changed_after_the_start_is_never_used(tmp_path):
    make_attempt(tmp_path, 1)
    folder = tmp_path / provenance.environment_dir(SLUG, 1)
    forged = {**ENVIRONMENT, "packages": {"tool": "pip freeze", "lines": ["torch==9.9.9"]}}
    (folder / "1-gpu-box-1.json").write_text(json.dumps(forged))
    (folder / "0-planted.json").write_text(json.dumps(forged))
    found = capsule_read.load(tmp_path, SLUG)
    assert found.environment is None and len(found.problems) == 1
    assert "environment/1-gpu-box-1.json changed after the program started" in found.problems[0]
    block = reproduce.page_block(found)
    assert block.splitlines()[2].startswith("- **Not trusted**:") and "9.9.9" not in block
    for show in (lambda: reproduce.commands(found, tmp_path), lambda: reproduce.freeze(found)):
        with pytest.raises(CapsuleError, match="cannot be trusted"):
            show()


def test_a_capsule_changed_after_launch_is_never_used(tmp_path):
    make_attempt(tmp_path, 1)
    path = capsule.path_of(tmp_path, SLUG, 1)
    path.write_text(path.read_text().replace('"seeds": [\n    0,', '"seeds": [\n    7,'))
    found = capsule_read.load(tmp_path, SLUG)
    assert found.data == {} and "capsule.json changed after launch" in found.problems[0]
    with pytest.raises(CapsuleError, match="cannot be trusted"):
        capsule_diff.diff(found, found)


def test_a_probe_that_failed_is_said_and_reproduce_names_it(tmp_path):
    make_attempt(tmp_path, 1, env=None)
    found = capsule_read.load(tmp_path, SLUG)
    assert not found.problems and found.environment is None
    assert "- Environment: not recorded on gpu-box: the environment probe failed" in reproduce.page_block(found)
    with pytest.raises(CapsuleError, match="environment was not recorded"):
        reproduce.commands(found, tmp_path)


def test_a_damaged_snapshot_is_not_offered_as_the_code(tmp_path):
    record = make_attempt(tmp_path, 1)
    (tmp_path / record.snapshot / "extra.py").write_text("planted\n")
    with pytest.raises(CapsuleError, match="cannot be restored from the snapshot: .* not the approved"):
        reproduce.commands(capsule_read.load(tmp_path, SLUG), tmp_path)


def test_attempts_are_found_by_number_and_a_missing_one_is_named(tmp_path):
    make_attempt(tmp_path, 1)
    make_attempt(tmp_path, 2, config="lr: 0.01\n")
    assert capsule_read.load(tmp_path, SLUG).attempt == 2
    assert capsule_read.load(tmp_path, SLUG, 1).data["run_id"] == f"{SLUG}-a1-0000"
    with pytest.raises(CapsuleError, match=r"no attempt 5 \(attempts: 1, 2\); use digits-mlp@<attempt>"):
        capsule_read.load(tmp_path, SLUG, 5)
    assert capsule_read.parse_ref(f"{SLUG}@2") == (SLUG, 2) and capsule_read.parse_ref(SLUG) == (SLUG, None)
    with pytest.raises(CapsuleError, match="<slug>@<number>"):
        capsule_read.parse_ref(f"{SLUG}@last")
    with pytest.raises(CapsuleError, match="no run launched yet"):
        capsule_read.load(tmp_path / "empty", SLUG)


def test_diff_names_every_difference_by_section(tmp_path):
    make_attempt(tmp_path, 1)
    env = copy.deepcopy(ENVIRONMENT)
    env["python"]["version"] = "3.12.3"
    env["packages"]["lines"] = ["numpy==2.0.0", "scikit-learn==1.5.0", "rich==13.7.1"]
    env["gpu"]["devices"][0]["name"] = "NVIDIA A100"
    dataset = {**capsule_data(RunRecord.load(Paths(SLUG, tmp_path).run), {})["dataset"], "content_sha256": "d" * 64}
    hyperparameters = {"lr": 0.01, "epochs": 20}
    make_attempt(tmp_path, 2, "lr: 0.01\n", env, dataset=dataset, seeds=[0, 1], hyperparameters=hyperparameters)
    first, second = capsule_read.load(tmp_path, SLUG, 1), capsule_read.load(tmp_path, SLUG, 2)
    found = capsule_diff.diff(first, second)
    assert found["code"]["changed"] == ["config.yaml"] and found["code"]["added"] == []
    assert found["packages"]["changed"] == {"numpy": ["1.26.4", "2.0.0"]}
    assert found["packages"]["added"] == {"rich": "13.7.1"} and found["packages"]["removed"] == {"foo": "1.0"}
    assert {"field": "python", "a": "3.11.7", "b": "3.12.3"} in found["environment"]
    assert {"field": "GPUs", "a": ["NVIDIA H200"], "b": ["NVIDIA A100"]} in found["environment"]
    assert found["data"] == [{"field": "content_sha256", "a": "c" * 64, "b": "d" * 64}]
    assert found["settings"] == [{"field": "hyperparameters.lr", "a": 0.001, "b": 0.01}]
    assert found["seeds"] == [{"field": "seeds", "a": [0, 1, 2], "b": [0, 1]}]
    assert found["hardware"] == [] and found["git"] == []
    text = capsule_diff.render(found)
    assert text.splitlines()[0] == f"exprun diff {SLUG}@1 → {SLUG}@2"
    assert "  code: 1 changed (config.yaml) — approved" in text
    assert "  packages: numpy 1.26.4 → 2.0.0; + rich 13.7.1; - foo 1.0" in text
    assert "  settings: hyperparameters.lr 0.001 → 0.01" in text and "  hardware: same" in text
    assert "  seeds: seeds [0, 1, 2] → [0, 1]" in text
    same = capsule_diff.diff(first, first)
    assert capsule_diff.render(same).count("same") == 8


def test_the_cli_prints_the_diff_as_json_and_refuses_in_one_line(tmp_path):
    make_attempt(tmp_path, 1)
    make_attempt(tmp_path, 2, config="lr: 0.01\n")

    def exprun(*args):
        argv = [sys.executable, "-m", "exprun", *args, "--root", str(tmp_path)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    done = exprun("diff", f"{SLUG}@1", SLUG, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["code"]["changed"] == ["config.yaml"]
    frozen = exprun("reproduce", SLUG, "--attempt", "1", "--freeze")
    assert frozen.stdout == "numpy==1.26.4\nfoo==1.0\nscikit-learn==1.5.0\n"
    missing = exprun("reproduce", SLUG, "--attempt", "9")
    assert missing.returncode == 1
    assert missing.stderr == f"exprun: {SLUG}: no attempt 9 (attempts: 1, 2); use {SLUG}@<attempt>\n"


def test_pip_freeze_lines_are_read_as_pip_names_them():
    found = capsule_diff.packages(
        [
            "# Editable install with no version control (exprun==0.1)",
            "-e /work/exprun",
            "-e git+https://github.com/o/r@abc#egg=my_pkg",
            "Scikit_Learn==1.5.0",
            "torch @ file:///wheels/torch-2.3.0.whl",
            "",
        ]
    )
    assert found == {
        "exprun": "-e /work/exprun",
        "my-pkg": "-e git+https://github.com/o/r@abc#egg=my_pkg",
        "scikit-learn": "1.5.0",
        "torch": "@ file:///wheels/torch-2.3.0.whl",
    }
