"""What the capsule records and where: the run's interpreter found as run.sh finds it, the guard's environment
file written before the program starts, the wiki's git state, the dataset's content hash."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.machines import dataset_probe, environment_probe
from exprun.prepare.codegen.templates_run import render_run_sh
from exprun.run import capsule
from exprun.trust import integrity

SLUG = "exp-a"


def test_the_probe_runs_with_the_interpreter_run_sh_activates(tmp_path):
    """run.sh generated with env_activate: the probe runs after that activation (its chatter kept off stdout), with
    the python it puts first on the PATH — not the interpreter exprun runs in."""
    env_dir = tmp_path / "other env"
    venv.create(env_dir, with_pip=False)
    activate = f"source '{env_dir}/bin/activate' && echo activated"
    snapshot = "snapshots/0123456789abcdef/exp-a"
    (tmp_path / snapshot).mkdir(parents=True)
    (tmp_path / snapshot / "run.sh").write_text(render_run_sh(SLUG, "python3", activate))
    how = capsule.interpreter_of(tmp_path, snapshot, Settings())
    assert how == {"activate": activate, "python": "python3", "from": "run.sh"}
    done = subprocess.run(capsule.probe_command(snapshot, how), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["python"]["prefix"]) == env_dir and found["python"]["virtualenv"] is True
    assert found["cwd"] == str(tmp_path) and "activated" in done.stderr
    assert found["packages"]["tool"] == "importlib.metadata", "no pip in that venv: the distributions instead"
    assert not any(line.lower().startswith("pyyaml") for line in found["packages"]["lines"]), "not exprun's venv"


def test_a_hand_written_run_sh_is_probed_with_the_settings_interpreter():
    written = '#!/usr/bin/env bash\npython3 train.py "$@"\n'
    assert capsule.interpreter(written, Settings(env_activate="conda activate lab")) == {
        "activate": "conda activate lab",
        "python": "python3",
        "from": "settings",
    }
    assert capsule.interpreter(written, Settings())["python"] == shlex.quote(sys.executable)


def test_the_guard_writes_the_environment_before_the_program_starts(tmp_path):
    folder, records = tmp_path / "snap", tmp_path / "provenance"
    folder.mkdir()
    (folder / "run.sh").write_text("true\n")
    check = (
        "import glob, hashlib, json, os, sys; "
        "rec, = glob.glob(sys.argv[1] + '/*.json'); "
        "env = os.path.join(sys.argv[2], os.path.basename(rec)); "
        "said = json.load(open(rec))['environment']; "
        "assert said == {'file': os.path.basename(rec), 'sha256': hashlib.sha256(open(env, 'rb').read()).hexdigest()}; "
        "print('program sees', json.load(open(env))['answer'])"
    )
    argv = integrity.guard_command(
        sys.executable,
        str(folder),
        integrity.folder_hash(folder),
        [sys.executable, "-c", check, str(records), str(tmp_path / "environment")],
        snapshot=True,
        record_dir=str(records),
        environment=["bash", "-c", 'echo "chatter" >&2; echo \'{"answer": 42}\''],
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "program sees 42"


def test_a_failing_probe_is_recorded_and_the_run_goes_on(tmp_path):
    folder, records, marker = tmp_path / "snap", tmp_path / "provenance", tmp_path / "ran"
    folder.mkdir()
    (folder / "run.sh").write_text("true\n")
    argv = integrity.guard_command(
        sys.executable,
        str(folder),
        integrity.folder_hash(folder),
        ["touch", str(marker)],
        snapshot=True,
        record_dir=str(records),
        environment=["bash", "-c", "echo 'no such python' >&2; exit 127"],
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and marker.exists()
    assert "environment not recorded: the environment probe failed (exit 127): no such python" in done.stderr
    (record,) = [json.loads(p.read_text()) for p in records.glob("*.json")]
    assert record["environment"] == {"error": "the environment probe failed (exit 127): no such python"}


@pytest.mark.parametrize("bad", ["not json", '["bash"', "[]", "[1]"])
def test_the_guard_refuses_an_environment_option_it_cannot_read(tmp_path, bad):
    folder = tmp_path / "snap"
    folder.mkdir()
    argv = [sys.executable, "-I", "-c", integrity.guard_source(), "verify", "--record-dir", str(tmp_path)]
    done = subprocess.run([*argv, "--environment", bad, str(folder), "0" * 64, "true"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("usage: verify")


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def test_git_state_names_the_commit_and_whether_the_code_folder_differs(tmp_path):
    assert capsule.git_state(tmp_path, SLUG) == {"commit": None, "note": "not a git repository"}
    git(tmp_path, "init", "-q")
    assert capsule.git_state(tmp_path, SLUG)["note"] == "no commit yet"
    code = Paths(SLUG, tmp_path).code_dir
    code.mkdir(parents=True)
    (code / "train.py").write_text("print(1)\n")
    (tmp_path / "unrelated.txt").write_text("elsewhere\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "x")
    clean = capsule.git_state(tmp_path, SLUG)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert clean["commit"] == head.stdout.strip() and clean["code_dirty"] is False
    (tmp_path / "unrelated.txt").write_text("changed, but not the code\n")
    assert capsule.git_state(tmp_path, SLUG)["code_dirty"] is False
    (code / "train.py").write_text("print(2)\n")
    (code / "new.py").write_text("\n")
    dirty = capsule.git_state(tmp_path, SLUG)
    assert dirty["code_dirty"] is True
    assert sorted(dirty["code_changes"]) == [f"experiments/code/{SLUG}/new.py", f"experiments/code/{SLUG}/train.py"]


def test_git_missing_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert capsule.git_state(tmp_path, SLUG) == {"commit": None, "note": "git is not installed"}


def test_the_dataset_probe_hashes_contents_under_its_cap(tmp_path):
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "train" / "a.csv").write_text("x,y\n1,2\n")
    (data / "labels.txt").write_text("cat\n")
    single = dataset_probe.probe(str(data / "labels.txt"))
    assert single["content_sha256"] == hashlib.sha256(b"cat\n").hexdigest()
    first = dataset_probe.probe(str(data))["content_sha256"]
    assert first == dataset_probe.probe(str(data))["content_sha256"], "the same bytes, the same fingerprint"
    (data / "train" / "a.csv").write_text("x,y\n1,3\n")
    assert dataset_probe.probe(str(data))["content_sha256"] != first, "one byte changes it"
    big = dataset_probe.probe(str(data), {"max_hash_bytes": 4})
    assert "content_sha256" not in big and big["content_hash_note"].startswith("not hashed: larger than the 4 B cap")
    many = dataset_probe.probe(str(data), {"max_files": 1})
    assert many["content_hash_note"] == "not hashed: too many files to count"


def test_the_probe_reads_a_conda_environment_from_conda_meta(tmp_path):
    (tmp_path / "conda-meta").mkdir()
    for name, version, build in (("numpy", "1.26.4", "py311h1"), ("python", "3.11.7", "h955ad1f_0")):
        (tmp_path / "conda-meta" / f"{name}-{version}-{build}.json").write_text(
            json.dumps({"name": name, "version": version, "build": build})
        )
    (tmp_path / "conda-meta" / "history").write_text("not a package\n")
    found = environment_probe.conda_info(str(tmp_path))
    assert found is not None and found["lines"] == ["numpy=1.26.4=py311h1", "python=3.11.7=h955ad1f_0"]
    assert environment_probe.conda_info(str(tmp_path / "elsewhere")) is None


def test_the_gpus_a_run_was_given_are_the_ones_recorded(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    found = environment_probe.gpu_info()
    assert found["visible"] is False and found["note"].startswith("no GPU visible (CUDA_VISIBLE_DEVICES is empty")
    assert environment_probe.visible_indices("1,3") == [1, 3]
    assert environment_probe.visible_indices("GPU-abc") is None and environment_probe.visible_indices(None) is None


FAKE_SMI = """#!/bin/sh
case "$1" in
  --query-gpu=*) printf '0, NVIDIA H200, 550.54.15, 143771\\n1, NVIDIA H200, 550.54.15, 143771\\n' ;;
  *) echo '| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |' ;;
esac
"""


def test_without_nvml_the_gpus_come_from_nvidia_smi_and_only_those_given_count(tmp_path, monkeypatch):
    (tmp_path / "nvidia-smi").write_text(FAKE_SMI)
    (tmp_path / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(environment_probe, "_nvml", lambda: {"devices": [], "error": "NVML unavailable: no library"})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    found = environment_probe.gpu_info()
    assert found["visible"] is True and found["source"] == "nvidia-smi"
    assert found["devices"] == [{"index": 1, "name": "NVIDIA H200", "memory_total_mib": 143771}]
    assert (found["driver"], found["cuda"]) == ("550.54.15", "12.4")
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    gone = environment_probe.gpu_info()
    assert gone["visible"] is False
    assert gone["note"] == "no GPU visible (NVML unavailable: no library; nvidia-smi: nvidia-smi: not found)"


def test_the_recorded_command_names_exprun_s_own_texts_instead_of_spelling_them_out():
    argv = integrity.guard_command("python3", "snap", "0" * 64, ["bash", "snap/run.sh"], True, "rec", ["bash", "-c"])
    shown = capsule.shown_command(argv)
    assert shown[3].startswith("<exprun guard integrity.py sha256:") and "<exprun environment probe>" in shown
    assert shown[-2:] == ["bash", "snap/run.sh"] and len(json.dumps(shown)) < 500
    assert os.path.basename(shown[0]) == "python3"
