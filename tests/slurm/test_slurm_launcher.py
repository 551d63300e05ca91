"""The SLURM launcher against a real single-node Slurm 22.05: arrays, failures, resubmission, GPU, stop."""

from __future__ import annotations

import json
import time

import pytest

from exprun.core.errors import LaunchError
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.machines.launchers import slurm, slurm_script
from exprun.machines.launchers.base import RunRecord
from exprun.run import backends
from exprun.trust import integrity, provenance, snapshot

pytestmark = [pytest.mark.service("slurm"), pytest.mark.usefixtures("slurm_cluster")]


def run_spec(slug, root, env=None):
    """The guarded launch deploy builds: the snapshot of the code as it is now, behind the guard."""
    code = Paths(slug, root).code_dir
    approved = integrity.folder_hash(code)
    place = snapshot.take(slug, root, code, approved)
    request = backends.LaunchRequest(
        slug,
        root,
        None,
        ExperimentConfig.from_mapping({}),
        None,
        approved,
        f"{slug}-a1-test",
        attempt=1,
        snapshot=place,
    )
    return request.run_spec(env=env)


def writable(folder):
    """A snapshot is read-only; an attacker (or root) can still write into it."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def results(root, slug) -> dict[str, dict]:
    folder = root / "results" / slug
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("seed_*.json"))}


def test_array_submitted_once_returns_at_once_and_completes(wiki_root, slug, runner, wait_ended, tmp_path):
    spec = run_spec(slug, wiki_root)
    started = time.monotonic()
    record = slurm.launch(spec, [0, 1, 2], slurm_script.Resources(), runner)
    assert time.monotonic() - started < 5, "launch must not wait for the tasks"
    assert runner.programs().count("sbatch") == 1
    assert record.backend == "slurm" and record.session.isdigit() and record.pid == 0
    assert record.details == {"job_id": record.session, "array_size": 3}
    assert "#SBATCH --array=0-2" in runner.scripts()[0]

    # A later process knows only run.json.
    record.save(tmp_path / "run.json")
    again = RunRecord.load(tmp_path / "run.json")
    ended = wait_ended(again, runner)
    assert (ended.state, ended.exit_code) == ("exited", 0), ended.detail
    assert sorted(results(wiki_root, slug)) == ["seed_0.json", "seed_1.json", "seed_2.json"]
    tasks = slurm.task_states(again, runner)
    assert {i: (t.state, t.exit_code, t.seed) for i, t in tasks.items()} == {
        0: ("COMPLETED", 0, "0"),
        1: ("COMPLETED", 0, "1"),
        2: ("COMPLETED", 0, "2"),
    }
    for index in range(3):
        log = open(slurm_script.task_log(again, index)).read()
        assert f"=== seed {index} ===" in log and "step=3 loss=0.7" in log
        assert (wiki_root / "experiments" / "state" / slug / f"exit_status_{index}").read_text().strip() == "0"
    assert slurm.anomalies_from_tasks(tasks) == []


def test_failed_task_reported_then_only_it_resubmitted(wiki_root, slug, runner, wait_ended):
    spec = run_spec(slug, wiki_root, env={"STANDIN_FAIL_SEED": "11"})
    record = slurm.launch(spec, [10, 11, 12], slurm_script.Resources(), runner)
    ended = wait_ended(record, runner)
    assert (ended.state, ended.exit_code) == ("exited", 3)
    assert "task 1 (seed 11)" in ended.detail
    tasks = slurm.task_states(record, runner)
    assert (tasks[1].state, tasks[1].exit_code) == ("FAILED", 3)
    assert [t.state for t in (tasks[0], tasks[2])] == ["COMPLETED", "COMPLETED"]
    anomalies = slurm.anomalies_from_tasks(tasks)
    assert [(a.kind, a.detail) for a in anomalies] == [("nonzero_exit", "task 1 (seed 11): exit status 3")]
    assert slurm.failed_tasks(tasks) == [1]

    before = {p.name: p.stat().st_mtime_ns for p in (wiki_root / "results" / slug).glob("seed_*.json")}
    assert sorted(before) == ["seed_10.json", "seed_12.json"]
    fixed = slurm.resubmit_failed(record, runner, [1], ["--fix"])
    assert runner.programs().count("sbatch") == 2
    assert "#SBATCH --array=1\n" in runner.scripts()[1]
    assert fixed.session != record.session and fixed.command[-1] == "--fix"

    ended = wait_ended(fixed, runner)
    assert (ended.state, ended.exit_code) == ("exited", 0), ended.detail
    after = results(wiki_root, slug)
    assert sorted(after) == ["seed_10.json", "seed_11.json", "seed_12.json"]
    assert after["seed_11.json"]["args"] == "--fix" and after["seed_11.json"]["job"] == fixed.session
    for name, mtime in before.items():
        assert (wiki_root / "results" / slug / name).stat().st_mtime_ns == mtime, f"{name} was rerun"
    tasks = slurm.task_states(fixed, runner)
    assert [tasks[i].job_id for i in range(3)] == [record.session, fixed.session, record.session]
    log = open(slurm_script.task_log(fixed, 1)).read()
    assert "seed 11 failed on purpose" in log and "args=[--fix]" in log, "the retry appends to the task's log"


def test_fake_gpu_reaches_the_job_as_cuda_visible_devices(wiki_root, slug, runner, wait_ended):
    spec = run_spec(slug, wiki_root, env={"CUDA_VISIBLE_DEVICES": "7"})  # a local GPU choice must not leak in
    record = slurm.launch(spec, [0], slurm_script.Resources(gpus=1), runner)
    assert "#SBATCH --gres=gpu:1" in runner.scripts()[0]
    ended = wait_ended(record, runner)
    assert ended.exit_code == 0, ended.detail
    log = open(slurm_script.task_log(record, 0)).read()
    assert "CUDA_VISIBLE_DEVICES=0" in log and "CUDA_VISIBLE_DEVICES=7" not in log


def test_stop_cancels_every_task(wiki_root, slug, runner, wait_ended):
    spec = run_spec(slug, wiki_root, env={"STANDIN_SLEEP": "120"})
    record = slurm.launch(spec, [0, 1], slurm_script.Resources(), runner)
    try:
        assert slurm.state(record, runner).alive
        # the real squeue takes the live states asked; the message names the array (not one started element)
        with pytest.raises(LaunchError, match=f"already queued or running \\(job {record.session}\\)"):
            slurm.launch(spec, [0], slurm_script.Resources(), runner)
    finally:
        slurm.stop(record, runner)  # two 120 s tasks left running would hold the node's 2 CPUs
    ended = wait_ended(record, runner, timeout=20)
    assert ended.state != "running", ended.detail
    slurm._refuse_duplicate(slug, runner)  # ended (even while SLURM completes it): a new array may go
    tasks = slurm.task_states(record, runner)
    assert {t.state for t in tasks.values()} == {"CANCELLED"}
    assert {a.kind for a in slurm.anomalies_from_tasks(tasks)} == {"killed"}
    slurm.stop(record, runner)  # stopping a finished run is not an error


def test_a_task_whose_snapshot_changed_after_submission_runs_nothing(wiki_root, slug, runner, wait_ended):
    """Queued tasks start later: each checks the approved snapshot itself when the node starts it."""
    spec = run_spec(slug, wiki_root)
    folder = wiki_root / spec.command[spec.command.index("--record-dir") + 2]
    writable(folder)
    (folder / "run.sh").write_text((folder / "run.sh").read_text() + "\n# edited while queued\n")
    record = slurm.launch(spec, [0, 1], slurm_script.Resources(), runner)
    ended = wait_ended(record, runner)
    assert (ended.state, ended.exit_code) == ("exited", integrity.GUARD_EXIT), ended.detail
    assert results(wiki_root, slug) == {}
    assert "not the approved code" in open(slurm_script.task_log(record, 0)).read()


def test_a_cache_planted_in_the_snapshot_is_refused_by_every_task(wiki_root, slug, runner, wait_ended):
    """Attack: a __pycache__ entry planted in the synced snapshot (the cluster's shared copy) after approval."""
    spec = run_spec(slug, wiki_root)
    folder = wiki_root / spec.command[spec.command.index("--record-dir") + 2]
    writable(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"planted")
    record = slurm.launch(spec, [0, 1], slurm_script.Resources(), runner)
    ended = wait_ended(record, runner)
    assert (ended.state, ended.exit_code) == ("exited", integrity.GUARD_EXIT), ended.detail
    assert results(wiki_root, slug) == {}
    assert "no approval covers (__pycache__/train.cpython-311.pyc)" in open(slurm_script.task_log(record, 0)).read()
    assert not (wiki_root / provenance.record_dir(slug, 1)).exists(), "nothing started, nothing recorded"


def test_each_array_task_runs_the_snapshot_and_records_its_start(wiki_root, slug, runner, wait_ended):
    spec = run_spec(slug, wiki_root)
    record = slurm.launch(spec, [0, 1], slurm_script.Resources(), runner)
    ended = wait_ended(record, runner)
    assert (ended.state, ended.exit_code) == ("exited", 0), ended.detail
    started = [json.loads(p.read_text()) for p in (wiki_root / provenance.record_dir(slug, 1)).glob("*.json")]
    assert sorted(r["tasks"][0] for r in started) == ["0", "1"] and all(len(r["tasks"]) == 1 for r in started)
    assert {r["slurm_job"] for r in started} == {f"{record.session}_0", f"{record.session}_1"}
    assert {r["code_dir"] for r in started} == {
        f"snapshots/{integrity.folder_hash(Paths(slug, wiki_root).code_dir)[:16]}/{slug}"
    }
