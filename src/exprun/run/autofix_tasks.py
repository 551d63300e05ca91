"""The one automatic fix of a multi-arm run: rerun only the tasks that went wrong, each with its own change.

A run of arms × seeds is not stopped while tasks are still going (that would throw away healthy tasks'
work): the fix waits until the run has ended, then reads each task's own log (run.sh writes one per task),
and reruns, under the same session and run id, exactly the tasks whose log shows a fixable anomaly
(NaN/inf/exploding loss, OOM). Each gets the change planned from its own arm's settings — a sweep arm with
a high learning rate gets half of *its* rate — passed per task (EXPRUN_TASK_ARGS) when the changes differ.
A rerun task starts again from scratch: a finished task has nothing left to resume. Tasks that failed in
other ways (a traceback) are not rerun and stay reported as failed. Still one fix per run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from exprun.core.settings import Settings
from exprun.experiment import arms
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.logs import monitor
from exprun.logs.logtail import tail_text
from exprun.machines.launchers.base import RunRecord
from exprun.run.backends import Run


@dataclass
class TaskFix:
    task: str
    anomaly: monitor.Anomaly
    args: list[str]
    change: str


def task_anomaly(text: str, settings: Settings) -> monitor.Anomaly | None:
    """The first fixable anomaly in one task's own log (judged as ended: the task is over)."""
    found = monitor.classify(text.splitlines(), "exited", None, explode_factor=settings.monitor.explode_factor)
    return next((a for a in found if a.fixable), None)


def arm_config(config: ExperimentConfig, task: str) -> ExperimentConfig:
    """config.yaml as the task's arm sees it (its overrides merged in), so the change starts from its values."""
    name, _ = arms.split_task(task)
    arm = next((a for a in config.arms if a.name == name), None)
    return config.with_overrides(arm.overrides) if arm else config


def plan(run: Run, config: ExperimentConfig, settings: Settings, planner) -> list[TaskFix]:
    """One TaskFix per task whose log shows a fixable anomaly; `planner(anomaly, config)` → (args, change)."""
    fixes = []
    for task, text in run.task_log_tails().items():
        anomaly = task_anomaly(text, settings)
        if anomaly is not None:
            args, change = planner(anomaly, arm_config(config, task))
            fixes.append(TaskFix(task, anomaly, args, change))
    return fixes


def relaunch_env(fixes: list[TaskFix]) -> tuple[list[str], dict[str, str]]:
    """(arguments for every rerun task, env changes): the same change for all goes on the command line, else
    each task's own goes into EXPRUN_TASK_ARGS ("task args;task args")."""
    env = {"EXPRUN_TASKS": " ".join(f.task for f in fixes), "EXPRUN_TASK_ARGS": ""}
    if len({tuple(f.args) for f in fixes}) == 1:
        return list(fixes[0].args), env
    env["EXPRUN_TASK_ARGS"] = ";".join(f"{f.task} {' '.join(f.args)}" for f in fixes)
    return [], env


def describe(fixes: list[TaskFix]) -> str:
    return "; ".join(f"task {f.task}: {f.change}" for f in fixes) + " (only these tasks rerun)"


# run.sh's closing lines: `task arm:3 failed with exit status 2` (arms) or `seed 3 failed with exit status 2`.
FAILED_TASK = re.compile(r"^(?:task (\S+:-?\d+)|seed (-?\d+)) failed with exit status (\d+)", re.M)


def failed_tasks(record: RunRecord, lines: list[str], log: Path) -> dict[str, int]:
    """The tasks that failed (arm:seed words, or seeds): this attempt's (run.sh's closing lines, read from the
    attempt's start in the log as well as the tail) and, after the automatic fix reran some tasks, the earlier
    failures it did not rerun."""
    current = "\n".join([*lines, tail_text(log, 1 << 16, start=record.log_offset)])
    relaunches = [h for h in record.history if h.get("event") == "relaunch"]
    kept = relaunches[-1].get("kept_failed", {}) if relaunches else {}
    return {**{str(t): int(c) for t, c in kept.items()}, **failed_in(current)}


def failed_in(text: str) -> dict[str, int]:
    """run.sh's closing lines in `text`: task (arm:seed, or seed) → exit status."""
    return {task or seed: int(code) for task, seed, code in FAILED_TASK.findall(text)}


def rerun_tasks(record: RunRecord) -> list[str]:
    """The tasks the automatic fix reran (a multi-arm run's relaunch names them)."""
    return [str(t) for h in record.history if h.get("event") == "relaunch" for t in h.get("tasks") or []]
