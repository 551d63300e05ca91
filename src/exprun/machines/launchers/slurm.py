"""Runs on a SLURM cluster: one job array per run, one array task per seed, one `sbatch` call.

Every command goes through a `runner` (argv, optional stdin text) -> (code, stdout, stderr):
locally a subprocess, or an SSH channel to a login node, so nothing here reads or writes a file
of the cluster's machine directly. The batch script is slurm_script's, the parsers slurm_parse's.

State comes from `sacct` when accounting works, else from `squeue -t all` (finished tasks
stay there for MinJobAge), else from the exit status file each task writes, else the task is
lost (the controller answered but knows nothing) or unknown (nobody answered).
What each submission was (job id, array indices, seeds, resources, extra args) is kept in the
record's history as `sbatch` events, so a later process can rebuild everything from run.json.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from exprun.core.errors import LaunchError
from exprun.logs.monitor import Anomaly
from exprun.machines.launchers.base import (
    EXITED,
    LOST,
    ON_EXIT,
    RUNNING,
    UNKNOWN,
    Backend,
    RunRecord,
    RunSpec,
    RunState,
    hostname,
)
from exprun.machines.launchers.slurm_parse import (
    LIVE_STATES,
    TASK_LOST,
    TASK_UNKNOWN,
    TaskState,
    parse_exit_files,
    parse_sacct,
    parse_squeue,
)
from exprun.machines.launchers.slurm_script import Resources, job_env, submit_script, task_exit_file


class Runner(Protocol):
    """Runs argv where the cluster is (stdin from `input`); answers (exit code, stdout, stderr).

    It never raises for a failing command: a missing program is 127, like a shell would say.
    """

    def __call__(self, argv: Sequence[str], input: str | None = None) -> tuple[int, str, str]: ...


SUBMIT_EVENT = "sbatch"
RUNNER_TIMEOUT_S = 60
# SLURM end states -> (monitor anomaly kind, why, in words).
END_STATES = {
    "OUT_OF_MEMORY": ("killed", "killed by SLURM's memory limit (host OOM): raise slurm.mem or lower batch_size"),
    "TIMEOUT": ("killed", "hit its time limit: raise slurm.time, or resubmit it with --resume"),
    "CANCELLED": ("killed", "cancelled (scancel by a person or an administrator)"),
    "DEADLINE": ("killed", "cancelled at its deadline"),
    "NODE_FAIL": ("lost", "its node failed: resubmit the task"),
    "BOOT_FAIL": ("lost", "its node failed to boot: resubmit the task"),
    "PREEMPTED": ("lost", "preempted by a higher-priority job: resubmit the task"),
    TASK_LOST: ("lost", "gone from SLURM without writing an exit status"),
}
_GONE = ("Invalid job id", "already completing or completed")


# ---------------------------------------------------------------- running commands


def local_runner(argv: Sequence[str], input: str | None = None) -> tuple[int, str, str]:
    """Run argv here; a missing program or a hang answers like a shell would (127, 124)."""
    try:
        done = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=RUNNER_TIMEOUT_S)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: no answer after {RUNNER_TIMEOUT_S} s"
    return done.returncode, done.stdout, done.stderr


def ssh_runner(session) -> Runner:
    """The same calls on a login node reached over a RemoteSession (sbatch, squeue, sacct run there)."""
    from exprun.core.errors import RemoteError

    def run(argv: Sequence[str], input: str | None = None) -> tuple[int, str, str]:
        try:
            return session.run(list(argv), timeout=RUNNER_TIMEOUT_S, input=input)
        except RemoteError as exc:
            return 255, "", str(exc)

    return run


def _sbatch(script: str, runner: Runner) -> str:
    """Submit the script on stdin; the job id from --parsable's `id[;cluster]`."""
    code, out, err = runner(["sbatch", "--parsable"], input=script)
    job_id = out.strip().split(";")[0]
    if code != 0 or not job_id.isdigit():
        raise LaunchError(
            f"sbatch failed (exit status {code}): {(err or out).strip() or 'no output'}; "
            "check slurm.partition, slurm.account and slurm.gpus in the settings, and `sinfo`"
        )
    return job_id


# ---------------------------------------------------------------- launch, resubmit, stop


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _submit_event(
    job_id: str, tasks: Sequence[int], seeds: Sequence[str], resources: Resources, args: Sequence[str]
) -> dict:
    return {
        "event": SUBMIT_EVENT,
        "at": _now(),
        "job_id": job_id,
        "tasks": sorted(tasks),
        "seeds": list(seeds),
        "resources": asdict(resources),
        "args": list(args),
    }


def _make_dirs(spec: RunSpec, runner: Runner) -> None:
    """SLURM cannot open a task's output in a missing folder (the task then fails to launch)."""
    folders = sorted({str(Path(spec.log).parent), str(Path(spec.exit_file).parent)})
    code, out, err = runner(["mkdir", "-p", "--", *folders])
    if code != 0:
        raise LaunchError(f"cannot create {', '.join(folders)} (exit status {code}): {(err or out).strip()}")


def _refuse_duplicate(slug: str, runner: Runner) -> None:
    """Like screen's exact session name: one live array named exp-<slug> per user."""
    # %F: the array's own job id (%A is each started element's, and `scancel` of one element stops only it)
    code, out, _ = runner(["squeue", "-h", "--me", "-n", f"exp-{slug}", "-t", ",".join(LIVE_STATES), "-o", "%F"])
    if code == 0 and out.strip():
        job = out.split()[0]
        raise LaunchError(
            f"a SLURM job named exp-{slug} is already queued or running (job {job}); "
            f"wait for it or `scancel {job}` first"
        )


def launch(
    spec: RunSpec,
    seeds: Sequence[object],
    resources: Resources | dict | None,
    runner: Runner = local_runner,
    host: str | None = None,
) -> RunRecord:
    """Submit one array (one sbatch call) and return at once; the record holds the job id.

    Resources may be the config's `slurm.resources` mapping; `host` names the submit host for
    the record (this machine's name by default, the SSH host when the runner is remote).
    """
    texts = [str(seed) for seed in seeds]
    if not isinstance(resources, Resources):
        resources = Resources.from_dict(resources)
    script = submit_script(spec, texts, resources)
    _refuse_duplicate(spec.slug, runner)
    _make_dirs(spec, runner)
    job_id = _sbatch(script, runner)
    record = RunRecord(
        slug=spec.slug,
        backend=Backend.SLURM,
        session=job_id,
        pid=0,
        started_at=_now(),
        host=host or hostname(),
        boot_id="",
        command=list(spec.command),
        cwd=str(spec.cwd),
        log=str(spec.log),
        exit_file=str(spec.exit_file),
        env=dict(spec.env),
        details={"job_id": job_id, "array_size": len(texts), **({ON_EXIT: list(spec.on_exit)} if spec.on_exit else {})},
    )
    record.history.append(_submit_event(job_id, range(len(texts)), texts, resources, []))
    return record


def submissions(record: RunRecord) -> list[dict]:
    subs = [h for h in record.history if h.get("event") == SUBMIT_EVENT]
    if not subs:
        raise LaunchError(f"{record.slug}: run record has no sbatch event; was it launched by the slurm launcher?")
    return subs


def task_owners(record: RunRecord) -> dict[int, str]:
    """Array index -> the job that ran it last (a resubmission takes over its indices)."""
    owners: dict[int, str] = {}
    for event in submissions(record):
        owners.update({int(task): str(event["job_id"]) for task in event["tasks"]})
    return dict(sorted(owners.items()))


def resubmit_failed(
    record: RunRecord, runner: Runner, failed_tasks: Iterable[int], extra_args: Sequence[str] = ()
) -> RunRecord:
    """The one automatic fix: rerun only the given indices, extra args appended; others untouched."""
    subs = submissions(record)
    seeds = subs[0]["seeds"]
    tasks = sorted(set(int(t) for t in failed_tasks))
    if not tasks:
        raise LaunchError(f"{record.slug}: no failed tasks to resubmit")
    command = [*record.command, *extra_args]
    spec = RunSpec(
        slug=record.slug,
        command=command,
        cwd=Path(record.cwd),
        log=Path(record.log),
        exit_file=Path(record.exit_file),
        env=job_env(record.env),
        on_exit=list(record.details.get(ON_EXIT) or []),
    )
    resources = Resources.from_dict(subs[-1]["resources"])
    _make_dirs(spec, runner)
    job_id = _sbatch(submit_script(spec, seeds, resources, tasks), runner)
    event = _submit_event(job_id, tasks, seeds, resources, extra_args)
    details = {**record.details, "job_id": job_id}
    return dataclasses.replace(
        record, session=job_id, command=command, details=details, history=[*record.history, event]
    )


def stop(record: RunRecord, runner: Runner = local_runner) -> None:
    """scancel every job of the run; jobs already gone are not an error."""
    jobs = sorted(set(task_owners(record).values()), key=int)
    code, out, err = runner(["scancel", *jobs])
    problems = [line for line in (err + out).splitlines() if line.strip() and not any(g in line for g in _GONE)]
    if code != 0 and problems:
        raise LaunchError(f"scancel {' '.join(jobs)} failed: {'; '.join(problems)}")


# ---------------------------------------------------------------- state


def _query_sacct(jobs: list[str], runner: Runner) -> dict[tuple[str, int], TaskState]:
    """Empty when accounting is off (`Slurm accounting storage is disabled`) or slurmdbd is down."""
    code, out, _ = runner(["sacct", "--parsable2", "--noheader", "-j", ",".join(jobs), "--format=JobID,State,ExitCode"])
    return parse_sacct(out) if code == 0 else {}


def _query_squeue(jobs: list[str], runner: Runner) -> tuple[dict[tuple[str, int], TaskState], bool]:
    """(tasks, whether the controller answered): `Invalid job id` is an answer (all purged)."""
    code, out, err = runner(
        ["squeue", "-h", "-r", "-t", "all", "-j", ",".join(jobs), "-O", "JobArrayID:48,State:24,exit_code:12,Reason:64"]
    )
    if code == 0:
        return parse_squeue(out), True
    return {}, "Invalid job id" in err


def _read_exit_files(record: RunRecord, indices: list[int], runner: Runner) -> dict[int, int]:
    if not indices:
        return {}
    files = {i: task_exit_file(record.exit_file, i) for i in indices}
    _, out, _ = runner(["grep", "-s", "-H", "-e", "", "--", *files.values()])
    return parse_exit_files(out, files)


@dataclass
class Accounting:
    """What sacct (and, for what it lacks, squeue) said of some jobs, keyed by (job id, array index): asked
    once for every run of a status scan rather than once per run."""

    found: dict[tuple[str, int], TaskState] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)
    squeue_answered: bool = True


def accounting(jobs: Iterable[str], runner: Runner, wanted: Iterable[tuple[str, int]] = ()) -> Accounting:
    """One sacct call for all `jobs`; one squeue call when sacct lacks a wanted (job, index)."""
    asked = sorted(set(jobs), key=int)
    found = _query_sacct(asked, runner)
    answered = True
    if any(key not in found for key in wanted):
        from_squeue, answered = _query_squeue(asked, runner)
        found = {**from_squeue, **found}
    return Accounting(found, set(asked), answered)


def record_jobs(record: RunRecord) -> list[tuple[str, int]]:
    """(job id, array index) of every task of the run, from its latest submission of each task."""
    return [(job, index) for index, job in task_owners(record).items()]


def task_states(
    record: RunRecord, runner: Runner = local_runner, known: Accounting | None = None
) -> dict[int, TaskState]:
    """Every array index of the run, from its latest job: sacct, squeue, exit files, in that order. `known`:
    what a scan already asked for its runs (asked again here only for jobs it did not cover)."""
    owners = task_owners(record)
    seeds = submissions(record)[0]["seeds"]
    if known is None or not set(owners.values()) <= known.asked:
        known = accounting(owners.values(), runner, record_jobs(record))
    found, answered = known.found, known.squeue_answered
    need_code = [i for i, job in owners.items() if (job, i) not in found or found[(job, i)].exit_code is None]
    codes = _read_exit_files(record, need_code, runner)
    tasks = {}
    for index, job in owners.items():
        task = found.get((job, index))
        seed = seeds[index] if index < len(seeds) else ""
        if task is not None:
            code = task.exit_code if task.exit_code is not None or task.active else codes.get(index)
            tasks[index] = dataclasses.replace(task, exit_code=code, seed=seed)
        elif index in codes:
            state = "COMPLETED" if codes[index] == 0 else "FAILED"
            tasks[index] = TaskState(index, state, codes[index], job, seed, "exit_file")
        else:
            tasks[index] = TaskState(index, TASK_LOST if answered else TASK_UNKNOWN, None, job, seed, "none")
    return tasks


def _label(task: TaskState) -> str:
    return f"task {task.index}" + (f" (seed {task.seed})" if task.seed else "")


def _ended(task: TaskState) -> str:
    """`FAILED exit status 3`, `FAILED (JobLaunchFailure)`: what a person reads first."""
    return (
        task.state
        + (f" exit status {task.exit_code}" if task.exit_code else "")
        + (f" ({task.reason})" if task.reason else "")
    )


def job_state(tasks: dict[int, TaskState]) -> RunState:
    """Running while any task is; then unknown if any is; exited 0 if all completed; else the first failure."""
    active = [t for t in tasks.values() if t.active]
    if active:
        counts: dict[str, int] = {}
        for task in active:
            counts[task.state.lower()] = counts.get(task.state.lower(), 0) + 1
        return RunState(RUNNING, None, ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    unknown = [t.index for t in tasks.values() if t.state == TASK_UNKNOWN]
    if unknown:
        return RunState(
            UNKNOWN,
            None,
            f"state unknown for tasks {unknown}: neither sacct nor squeue answered "
            "and no exit status file was found; check again later",
        )
    failed = [t for t in sorted(tasks.values(), key=lambda t: t.index) if t.failed]
    if not failed:
        return RunState(EXITED, 0, f"all {len(tasks)} tasks completed")
    detail = "; ".join(f"{_label(t)} {_ended(t)}" for t in failed)
    code = next((t.exit_code for t in failed if t.exit_code), None)
    return RunState(EXITED, code, detail) if code is not None else RunState(LOST, None, detail)


def state(record: RunRecord, runner: Runner = local_runner) -> RunState:
    """The whole run's state from its tasks' states."""
    return job_state(task_states(record, runner))


def anomalies_from_tasks(tasks: dict[int, TaskState]) -> list[Anomaly]:
    """One monitor anomaly per failed task, naming its index, seed and exit code or SLURM state."""
    found = []
    for task in sorted(tasks.values(), key=lambda t: t.index):
        if not task.failed:
            continue
        if task.state in END_STATES:
            kind, why = END_STATES[task.state]
            found.append(Anomaly(kind, f"{_label(task)} {task.state}: {why}"))
        elif task.exit_code is None:
            found.append(
                Anomaly(
                    "nonzero_exit",
                    f"{_label(task)} {_ended(task)} without an exit status: read the task's log and slurmd's log",
                )
            )
        elif task.exit_code == 127:
            found.append(Anomaly("command_not_found", f"{_label(task)}: exit status 127: command not found"))
        elif 128 < task.exit_code < 128 + 32:
            found.append(
                Anomaly(
                    "killed", f"{_label(task)}: exit status {task.exit_code}: killed by signal {task.exit_code - 128}"
                )
            )
        else:
            found.append(Anomaly("nonzero_exit", f"{_label(task)}: exit status {task.exit_code}"))
    return found


def failed_tasks(tasks: dict[int, TaskState]) -> list[int]:
    """The indices resubmit_failed should rerun."""
    return sorted(i for i, task in tasks.items() if task.failed)
