"""Pure parts of the SLURM launcher: captured sacct/squeue text, state rules, the batch script, fake runners."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from exprun.core.errors import ConfigError, LaunchError
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.machines.launchers import slurm, slurm_parse, slurm_script
from exprun.machines.launchers.base import RunRecord, RunSpec
from exprun.machines.launchers.slurm import TaskState

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CAPTURED = GOLDEN / "slurm_captured"


def captured(name: str) -> str:
    return (CAPTURED / name).read_text()


def summary(found: dict) -> dict:
    return {key: (task.state, task.exit_code) for key, task in found.items()}


def test_sacct_mixed_array_states_steps_skipped():
    found = slurm_parse.parse_sacct(captured("sacct_mixed.txt"))
    assert summary(found) == {
        ("1", 0): ("COMPLETED", 0),
        ("1", 1): ("FAILED", 3),
        ("1", 2): ("FAILED", 137),
        ("1", 3): ("COMPLETED", 0),
        ("1", 4): ("CANCELLED", 0),
        ("1", 5): ("RUNNING", 0),
        ("7", 0): ("TIMEOUT", 0),
        ("7", 1): ("RUNNING", 0),
        ("7", 2): ("PENDING", 0),
        ("7", 3): ("PENDING", 0),
    }
    assert {task.source for task in found.values()} == {"sacct"}


def test_sacct_pending_range_with_throttle_expands():
    found = slurm_parse.parse_sacct(captured("sacct_pending_range.txt"))
    assert summary(found) == {
        ("7", 0): ("RUNNING", 0),
        ("7", 1): ("PENDING", 0),
        ("7", 2): ("PENDING", 0),
        ("7", 3): ("PENDING", 0),
    }


def test_squeue_wait_status_and_reasons():
    found = slurm_parse.parse_squeue(captured("squeue_mixed.txt"))
    assert summary(found)[("1", 1)] == ("FAILED", 3)  # 768 = exit 3 << 8
    assert summary(found)[("1", 2)] == ("FAILED", 137)  # 9 = SIGKILL
    assert summary(found)[("1", 4)] == ("CANCELLED", 143)  # 15 = SIGTERM
    assert summary(found)[("7", 0)] == ("TIMEOUT", 143)
    assert summary(found)[("7", 2)] == ("PENDING", 0)
    assert found[("7", 0)].reason == "TimeLimit" and found[("7", 2)].reason == "JobArrayTaskLimit"
    assert found[("1", 1)].reason == "", "NonZeroExitCode says nothing the exit code does not"


def test_squeue_plain_format_and_compressed_pending():
    found = slurm_parse.parse_squeue(captured("squeue_plain.txt"))
    assert summary(found) == {
        ("7", 0): ("RUNNING", None),
        ("7", 1): ("PENDING", None),
        ("7", 2): ("PENDING", None),
        ("7", 3): ("PENDING", None),
    }


def test_squeue_slurm_error_code_is_not_an_exit_status():
    found = slurm_parse.parse_squeue(captured("squeue_launch_failure.txt"))
    assert summary(found) == {("6", 2): ("FAILED", None), ("6", 1): ("FAILED", None)}
    anomalies = slurm.anomalies_from_tasks({1: found[("6", 1)]})
    assert anomalies[0].kind == "nonzero_exit" and "JobLaunchFailure" in anomalies[0].detail


@pytest.mark.parametrize(
    "text, expected",
    [
        ("123_4", ("123", [4])),
        ("123_[1-3,7%2]", ("123", [1, 2, 3, 7])),
        ("123", ("123", [])),
        ("123_4.batch", None),
        ("123_4.extern", None),
        ("JobID", None),
        ("", None),
    ],
)
def test_task_ids(text, expected):
    assert slurm_parse.parse_task_id(text) == expected


def test_exit_code_decoding():
    assert slurm_parse.exit_code_from_sacct("3:0") == 3
    assert slurm_parse.exit_code_from_sacct("0:9") == 137
    assert slurm_parse.exit_code_from_sacct("0:125") == 0, "not a signal: OUT_OF_MEMORY's marker"
    assert slurm_parse.exit_code_from_wait_status("139") == 128 + 11, "SIGSEGV with the core-dump bit"
    assert slurm_parse.exit_code_from_wait_status("0") == 0
    assert slurm_parse.exit_code_from_wait_status("x") is None


def test_exit_files_from_grep_output():
    files = {1: "/w r/exit_status_1", 10: "/w r/exit_status_10", 2: "/w r/exit_status_2"}
    text = "/w r/exit_status_10:0\n/w r/exit_status_1:3\n"
    assert slurm_parse.parse_exit_files(text, files) == {1: 3, 10: 0}


def tasks_of(*states: tuple[str, int | None]) -> dict[int, TaskState]:
    return {i: TaskState(i, state, code, "5", str(i)) for i, (state, code) in enumerate(states)}


def test_job_state_rules():
    assert slurm.job_state(tasks_of(("COMPLETED", 0), ("COMPLETING", None))).state == "running"
    assert slurm.job_state(tasks_of(("FAILED", 2), ("PENDING", None))).state == "running"
    assert (
        slurm.job_state(tasks_of(("COMPLETED", 0), ("COMPLETED", 0))).state,
        slurm.job_state(tasks_of(("COMPLETED", 0), ("COMPLETED", 0))).exit_code,
    ) == ("exited", 0)
    first = slurm.job_state(tasks_of(("COMPLETED", 0), ("FAILED", 3), ("FAILED", 4)))
    assert (first.state, first.exit_code) == ("exited", 3)
    assert "task 1 (seed 1) FAILED exit status 3" in first.detail and "task 2" in first.detail
    unknown = slurm.job_state(tasks_of(("COMPLETED", 0), (slurm_parse.TASK_UNKNOWN, None)))
    assert unknown.state == slurm.UNKNOWN and "[1]" in unknown.detail and unknown.alive, "unknown is never collected on"
    lost = slurm.job_state(tasks_of(("COMPLETED", 0), ("CANCELLED", 0)))
    assert (lost.state, lost.exit_code) == ("lost", None) and "CANCELLED" in lost.detail


def test_anomalies_per_slurm_end_state():
    tasks = tasks_of(
        ("COMPLETED", 0),
        ("OUT_OF_MEMORY", 0),
        ("TIMEOUT", None),
        ("NODE_FAIL", None),
        ("PREEMPTED", None),
        ("CANCELLED", 0),
        ("FAILED", 127),
        ("FAILED", 137),
        ("FAILED", 2),
        (slurm_parse.TASK_LOST, None),
        ("RUNNING", None),
    )
    kinds = [(a.kind, a.detail.split(":")[0]) for a in slurm.anomalies_from_tasks(tasks)]
    assert kinds == [
        ("killed", "task 1 (seed 1) OUT_OF_MEMORY"),
        ("killed", "task 2 (seed 2) TIMEOUT"),
        ("lost", "task 3 (seed 3) NODE_FAIL"),
        ("lost", "task 4 (seed 4) PREEMPTED"),
        ("killed", "task 5 (seed 5) CANCELLED"),
        ("command_not_found", "task 6 (seed 6)"),
        ("killed", "task 7 (seed 7)"),
        ("nonzero_exit", "task 8 (seed 8)"),
        ("lost", "task 9 (seed 9) LOST"),
    ]
    assert slurm.failed_tasks(tasks) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(a.suggestion for a in slurm.anomalies_from_tasks(tasks)), "only kinds monitor knows"


def hostile_spec(root: Path = Path('/srv/wiki root/it\'s "lab" 100%')) -> RunSpec:
    return RunSpec(
        "digits-mlp",
        ["bash", "experiments/code/digits-mlp/run.sh", "--lr", "0.5 x"],
        root,
        root / "logs/exp-digits-mlp.log",
        root / "experiments/state/digits-mlp/exit_status",
        env={"EXPRUN_PYTHON": "/opt/py env/bin/python", "CUDA_VISIBLE_DEVICES": "3"},
    )


def test_submit_script_golden():
    resources = slurm_script.Resources(gpus=1, mem="8G", time="02:00:00", partition="gpu")
    text = slurm_script.submit_script(hostile_spec(), [0, 1, 2], resources)
    assert text == (GOLDEN / "slurm" / "submit_script.sh").read_text()


def test_submit_script_resubmission_and_options():
    text = slurm_script.submit_script(
        hostile_spec(), ["a", "b", "c", "d"], slurm_script.Resources(account="lab", gpus=2, gpu_type="a100"), [1, 3]
    )
    assert "#SBATCH --array=1,3\n" in text and "seeds=(a b c d)" in text
    assert "#SBATCH --account=lab\n" in text and "#SBATCH --gres=gpu:a100:2\n" in text
    assert "--partition" not in slurm_script.submit_script(hostile_spec(), [0], slurm_script.Resources())
    with pytest.raises(LaunchError, match="do not fit"):
        slurm_script.submit_script(hostile_spec(), [0, 1], slurm_script.Resources(), [2])


@pytest.mark.parametrize(
    "bad",
    [
        {"partition": "gpu\n#SBATCH --x"},
        {"partition": "gpu\n"},
        {"mem": "8 G"},
        {"time": '1"h'},
        {"gpus": -1},
        {"walltime": "1:00:00"},
    ],
)
def test_resources_refuse_values_that_could_change_the_script(bad):
    with pytest.raises(ConfigError):
        slurm_script.Resources.from_dict(bad)


def test_an_environment_name_with_a_trailing_newline_is_refused():
    """`$` alone matches before a final newline: names that reach the batch script are matched whole."""
    with pytest.raises(LaunchError, match="cannot be exported"):
        slurm_script.job_env({"EXPRUN_RUN_ID\n": "x"})


def test_backslash_in_log_path_refused():
    with pytest.raises(LaunchError, match="backslash"):
        slurm_script.submit_script(hostile_spec(Path("/srv/a\\b")), [0], slurm_script.Resources())


class FakeRunner:
    """Answers by program name; records argv and stdin."""

    def __init__(self, answers: dict[str, tuple[int, str, str]]):
        self.answers, self.calls = answers, []

    def __call__(self, argv, input=None):
        self.calls.append((list(argv), input))
        return self.answers.get(argv[0], (0, "", ""))


def record_of(tasks=(0, 1, 2), resubmitted: dict | None = None) -> RunRecord:
    history = [
        {"event": "sbatch", "job_id": "40", "tasks": list(tasks), "seeds": ["0", "1", "2"], "resources": {}, "args": []}
    ]
    if resubmitted:
        history.append(
            {
                "event": "sbatch",
                "job_id": "41",
                "tasks": resubmitted["tasks"],
                "seeds": ["0", "1", "2"],
                "resources": {"gpus": 1},
                "args": ["--fix"],
            }
        )
    return RunRecord(
        "demo",
        "slurm",
        "40",
        0,
        "",
        "h",
        "",
        ["bash", "run.sh"],
        "/w r",
        "/w r/logs/exp-demo.log",
        "/w r/experiments/state/demo/exit_status",
        history=history,
    )


DISABLED = (1, "", "Slurm accounting storage is disabled\n")


def test_state_falls_back_to_exit_files_after_min_job_age():
    runner = FakeRunner(
        {
            "sacct": DISABLED,
            "squeue": (1, "", "slurm_load_jobs error: Invalid job id specified\n"),
            "grep": (
                2,
                "/w r/experiments/state/demo/exit_status_0:0\n/w r/experiments/state/demo/exit_status_2:4\n",
                "",
            ),
        }
    )
    tasks = slurm.task_states(record_of(), runner)
    assert {i: (t.state, t.exit_code, t.source) for i, t in tasks.items()} == {
        0: ("COMPLETED", 0, "exit_file"),
        1: (slurm_parse.TASK_LOST, None, "none"),
        2: ("FAILED", 4, "exit_file"),
    }
    assert slurm.job_state(tasks).exit_code == 4


def test_state_unknown_when_nobody_answers():
    runner = FakeRunner(
        {
            "sacct": DISABLED,
            "squeue": (1, "", "Unable to contact slurm controller (connect failure)"),
            "grep": (2, "", ""),
        }
    )
    seen = slurm.state(record_of(), runner)
    assert seen.state == slurm.UNKNOWN and "check again later" in seen.detail


def test_sacct_answer_needs_no_squeue_and_latest_job_owns_resubmitted_index():
    sacct = "40_0|COMPLETED|0:0\n40_0.batch|COMPLETED|0:0\n40_1|FAILED|3:0\n40_2|COMPLETED|0:0\n41_1|RUNNING|0:0\n"
    runner = FakeRunner({"sacct": (0, sacct, "")})
    tasks = slurm.task_states(record_of(resubmitted={"tasks": [1]}), runner)
    assert [argv[0] for argv, _ in runner.calls] == ["sacct"]
    assert "40,41" in runner.calls[0][0]
    assert {i: (t.state, t.job_id) for i, t in tasks.items()} == {
        0: ("COMPLETED", "40"),
        1: ("RUNNING", "41"),
        2: ("COMPLETED", "40"),
    }


def test_launch_one_sbatch_on_stdin_and_refuses_duplicates(tmp_path):
    spec = RunSpec("demo", ["bash", "run.sh"], tmp_path, tmp_path / "logs/exp-demo.log", tmp_path / "s/exit_status")
    runner = FakeRunner({"sbatch": (0, "812;cluster\n", "")})
    record = slurm.launch(spec, [3, 4], slurm_script.Resources(), runner, host="gpu-box")
    assert [argv for argv, _ in runner.calls if argv[0] == "sbatch"] == [["sbatch", "--parsable"]]
    assert (
        record.session == "812"
        and record.host == "gpu-box"
        and record.details["array_size"] == 2
        and "EXPRUN_SLURM_JOB_ID" not in record.env
    )
    assert record.history[-1]["seeds"] == ["3", "4"] and record.history[-1]["tasks"] == [0, 1]
    busy = FakeRunner({"squeue": (0, "799\n", "")})
    with pytest.raises(LaunchError, match="already queued or running.*scancel 799"):
        slurm.launch(spec, [0], slurm_script.Resources(), busy)
    assert "sbatch" not in [argv[0] for argv, _ in busy.calls]


def test_sbatch_failure_names_the_error(tmp_path):
    spec = RunSpec("demo", ["bash", "run.sh"], tmp_path, tmp_path / "logs/x.log", tmp_path / "s/exit_status")
    runner = FakeRunner({"sbatch": (1, "", "sbatch: error: invalid partition specified: gpu\n")})
    with pytest.raises(LaunchError, match="invalid partition"):
        slurm.launch(spec, [0], slurm_script.Resources(partition="gpu"), runner)


def test_resubmit_keeps_seeds_and_resources_and_stop_cancels_all_jobs():
    runner = FakeRunner({"sbatch": (0, "42\n", "")})
    record = slurm.resubmit_failed(record_of(resubmitted={"tasks": [1]}), runner, [2, 1], ["--lr", "0.1"])
    script = runner.calls[-1][1]
    assert "#SBATCH --array=1-2\n" in script and "#SBATCH --gres=gpu:1\n" in script and "seeds=(0 1 2)" in script
    assert script.splitlines()[-4] == "bash run.sh --lr 0.1"
    assert record.session == "42" and record.details["job_id"] == "42" and len(record.history) == 3
    assert slurm.task_owners(record) == {0: "40", 1: "42", 2: "42"}
    scancel = FakeRunner(
        {"scancel": (1, "", "scancel: error: Kill job error on job id 40: Job/step already completing or completed\n")}
    )
    slurm.stop(record, scancel)
    assert scancel.calls[0][0] == ["scancel", "40", "42"]
    with pytest.raises(LaunchError, match="Access/permission denied"):
        slurm.stop(record, FakeRunner({"scancel": (1, "", "scancel: error: Access/permission denied\n")}))


def test_the_per_task_fix_resubmits_the_named_tasks_with_their_own_arguments(tmp_path):
    """A multi-arm fix on SLURM: the tasks env names (arm:seed words) become their array indices, and each
    task's own change travels in the exported EXPRUN_TASK_ARGS."""
    from exprun.run.slurm_backend import SlurmArray

    record = record_of()
    record.history[0]["seeds"] = ["full:0", "hot:0", "hot:1"]
    backend = SlurmArray(tmp_path)
    backend.runner = FakeRunner({"sbatch": (0, "43\n", "")})
    fresh, _ = backend.relaunch(
        record, [], {"EXPRUN_TASKS": "hot:1 hot:0", "EXPRUN_TASK_ARGS": "hot:0 --lr 0.001;hot:1 --lr 0.01"}
    )
    script = backend.runner.calls[-1][1]
    assert "#SBATCH --array=1-2\n" in script
    assert "export EXPRUN_TASK_ARGS='hot:0 --lr 0.001;hot:1 --lr 0.01'" in script
    assert slurm.task_owners(fresh) == {0: "40", 1: "43", 2: "43"}


def test_a_slurm_deploy_refuses_while_a_variable_the_code_reads_is_unset(tmp_path, monkeypatch):
    """The code reads LAB_TOKEN (a key the run needs); sbatch passes the login node's environment on, so a
    submit without it is refused before anything is queued — naming the variable, never a value."""
    from exprun.core import config
    from exprun.core.paths import Paths
    from exprun.run.backends import LaunchRequest
    from exprun.run.slurm_backend import SlurmArray

    code = Paths("demo", tmp_path).code_dir
    code.mkdir(parents=True)
    (code / "train.py").write_text('import os\nTOKEN = os.environ["LAB_TOKEN"]\n')
    page = SimpleNamespace(get=lambda key, default=None: "cpu" if key == "setup.hardware" else default)
    request = LaunchRequest(
        "demo",
        tmp_path,
        page,
        ExperimentConfig.from_mapping({"seeds": [0]}),
        config.parse({"env": "slurm"}),
        "ab" * 32,
        "demo-a1",
    )
    backend = SlurmArray(tmp_path)
    monkeypatch.delenv("LAB_TOKEN", raising=False)
    with pytest.raises(LaunchError, match="LAB_TOKEN"):
        backend._launch(request)


def test_a_status_scan_asks_the_accounting_once_for_every_run(tmp_path):
    """`exprun status` over many SLURM runs: one sacct call for all their jobs, each run read from it; a later
    look at a run (a wait loop) asks again rather than trusting the scan's answer."""
    from exprun.run.slurm_backend import SlurmArray

    runs = []
    for number, slug in enumerate(("demo-a", "demo-b", "demo-c")):
        record = record_of()
        job = str(50 + number)
        record.history[0]["job_id"] = job
        runs.append(dataclasses.replace(record, slug=slug, session=job))
    lines = "".join(f"{50 + n}_{i}|{'RUNNING' if n else 'COMPLETED'}|0:0\n" for n in range(3) for i in range(3))
    runner = FakeRunner({"sacct": (0, lines, "")})
    launcher = SlurmArray(tmp_path)
    launcher.runner = runner
    for record in runs:
        launcher.expect(record)
    states = [launcher.state(record) for record in runs]
    sacct = [argv for argv, _ in runner.calls if argv[0] == "sacct"]
    assert len(sacct) == 1 and sacct[0][sacct[0].index("-j") + 1] == "50,51,52"
    assert [s.state.value for s in states] == ["exited", "running", "running"]
    launcher.state(runs[1])
    assert len([argv for argv, _ in runner.calls if argv[0] == "sacct"]) == 2
