"""Is a run alive, and how is it doing? Its record (restored from its attempt copy when run.json is lost), the
config it executes, liveness, the bounded log tail, progress and anomalies — and the rules by which its seed
files count. Reads only: collect (finish/collect.py) and `exprun status` act on what this finds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import read_json
from exprun.core.invocation import snakemake_command
from exprun.core.numbers import finite
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment import arms
from exprun.experiment.experiment_config import ExperimentConfig, load_run_config
from exprun.gate import approval as gate
from exprun.logs import monitor, task_progress
from exprun.machines.launchers.base import RunRecord, RunState, latest_copy, record_tasks, runs_tasks_in_parallel
from exprun.run import autofix_tasks, foreign
from exprun.run.backends import Run
from exprun.trust import integrity, provenance, snapshot
from exprun.verdict import arm_results
from exprun.verdict.results import CountRules
from exprun.wiki import lifecycle, pages
from exprun.wiki.lifecycle import PageStatus

CRASH_KINDS = monitor.CRASH_KINDS
MONITOR_LINES = 200


@dataclass
class Inspection:
    record: RunRecord
    state: RunState
    lines: list[str]
    progress: monitor.Progress
    anomalies: list[monitor.Anomaly]
    idle_seconds: float | None
    tail: list[str] = field(default_factory=list)  # every line of the bounded tail (lines: its last MONITOR_LINES)
    in_order: bool = False  # tasks run one after the other in one log (task_progress reads the order)


def load_record(slug: str, root: Path) -> RunRecord:
    """exprun's run record; for a running page without one (deployed by the wiki's agent), a stand-in.

    A run exprun launched never passes for someone else's: when its run.json is gone but its marks are there
    (deployed.stamp / jobs.stamp), the record is restored from the copy kept in its attempt's folder, or
    refused in one line saying how to restore it."""
    paths = Paths(slug, root)
    record = RunRecord.load(paths.run)
    if record is None:
        launched = _launch_mark(paths)
        if launched is not None:
            return _restored(paths, str(launched.get("run_id") or ""))
        page = lifecycle.find_experiment(slug, root)
        if page.status == lifecycle.RUNNING:
            return foreign.record_for(page, root)
        raise ExprunError(
            f"{slug}: no run record at {paths.run}; was it deployed with `{snakemake_command(f'deploy_{slug}')}`?"
        )
    return record


def _launch_mark(paths: Paths) -> dict | None:
    """What says exprun launched the current run (its run id): deploy's marker, else a copy of the record in an
    attempt folder that was never retired; {} when unreadable, None when nothing does."""
    copy = latest_copy(paths.run)
    marks = [paths.deployed, paths.jobs_started] + ([copy] if copy and not (copy.parent / "run.json").exists() else [])
    for mark in marks:
        if mark.exists():
            try:
                found = read_json(mark)
            except (ValueError, OSError):
                return {}
            return found if isinstance(found, dict) else {}
    return None


def _restored(paths: Paths, run_id: str) -> RunRecord:
    """run.json of an exprun launch, back from its attempt copy (the copy of this very run, by its run id)."""
    copy = latest_copy(paths.run)
    record = RunRecord.load(copy) if copy is not None else None
    if record is None or not run_id or record.run_id != run_id:
        raise ExprunError(
            f"{paths.run} is missing, but exprun launched this run ({paths.deployed.name} says run "
            f"{run_id or '?'}) and no copy of its record is left; it is never counted as someone "
            f"else's run — restore run.json from a backup, or abandon the run and plan it again"
        )
    record.save(paths.run)
    return record


def run_config(slug: str, root: Path, record: RunRecord) -> ExperimentConfig:
    """The config.yaml the run executes (its snapshot's: a live edit changes neither its seeds nor its criteria);
    for a run someone else launched without exprun's code folder, what its page and files say."""
    if record.foreign:
        return foreign.config_for(slug, root, lifecycle.find_experiment(slug, root))
    return load_run_config(slug, root, record.snapshot)


def inspect(run: Run, settings: Settings, now: float | None = None) -> Inspection:
    """Liveness, bounded log tail, progress and anomalies of the current attempt."""
    record = run.record
    state = run.state()
    every_line = run.tail().splitlines()
    lines = every_line[-MONITOR_LINES:]
    idle = run.idle_seconds(now or time.time())
    progress = monitor.parse_progress(lines)
    judged = "ended" if record.foreign and not state.alive else state.state  # no exit status to judge by
    anomalies = run.anomalies() + monitor.classify(
        lines,
        judged,
        state.exit_code,
        idle,
        settings.monitor.stall_minutes * 60,
        settings.monitor.explode_factor,
        progress,
    )
    if not any(a.kind == "exploding_loss" for a in anomalies):
        anomalies += monitor.task_anomalies(every_line, settings.monitor.explode_factor)
    changed = code_changed(run)
    if changed:
        anomalies.append(monitor.Anomaly("code_changed", changed))
    tampered = snapshot_changed(run)
    if tampered:
        anomalies.append(monitor.Anomaly("snapshot_changed", tampered))
    in_order = run.launcher.runs_tasks_in_order and not runs_tasks_in_parallel(record)
    return Inspection(record, state, lines, progress, anomalies, idle, every_line, in_order)


def code_changed(run: Run) -> str:
    """Which files of the live code folder differ from what this run was launched with ("" when none, or not
    here). A run from a snapshot is unaffected, and the words say so."""
    record = run.record
    if not record.approved_hash or not run.code_is_here:
        return ""
    code_dir = Paths(record.slug, run.root).code_dir
    try:
        if integrity.folder_hash(code_dir) == record.approved_hash:
            return ""
        current = integrity.file_hashes(code_dir)
    except (OSError, integrity.LinkLoop) as exc:
        return f"the code folder cannot be hashed: {exc}"
    try:
        approved = gate.approved_files(record.slug, run.root, record.approved_hash)
    except ExprunError:
        approved = {}
    names = sorted(rel for rel in current if approved.get(rel) != current[rel]) if approved else []
    changed = ", ".join(names) or "the code folder"
    what = f"{changed} changed since this run was launched (approved {record.approved_hash[:12]})"
    if record.snapshot:
        return f"{what}; the run is unaffected: it executes its approved snapshot {record.snapshot}/"
    return what


def snapshot_changed(run: Run) -> str:
    """Why the snapshot this run executes no longer holds the approved bytes ("" when it does, or not here)."""
    if not run.record.snapshot or not run.code_is_here:
        return ""
    return snapshot.problem(Path(run.root) / run.record.snapshot, run.record.approved_hash)


def count_rules(slug: str, root: Path, record: RunRecord, seen: Inspection | None = None) -> CountRules:
    """What this run's seed files must agree with: the tasks exprun's guard started (its provenance records),
    the tasks that failed, the run id and approved hash (cross-checks), and no change to the snapshot."""
    if record.foreign:
        return CountRules()
    started = None
    if record.guarded:
        started = frozenset(provenance.read(root, slug, record.attempt, record.run_id, record.approved_hash).tasks)
    failed = autofix_tasks.failed_tasks(record, seen.lines if seen else [], Paths(slug, root).log)
    tampered = next((a.detail for a in (seen.anomalies if seen else []) if a.kind == "snapshot_changed"), "")
    excluded = f"the run's snapshot changed while it ran ({tampered}); no result of it counts" if tampered else ""
    return CountRules(record.run_id, record.approved_hash, started, failed, excluded)


def progress_data(slug: str, page: pages.Page, seen: Inspection, root: Path, now: datetime) -> dict:
    config = run_config(slug, root, seen.record)
    arm_list = list(config.arms)
    seeds = len(config.seeds) * len(arm_list)  # every task: arm × seed
    started = datetime.fromisoformat(seen.record.started_at)
    elapsed_h = (now - started).total_seconds() / 3600
    rules = count_rules(slug, root, seen.record, seen)
    # tasks with a counted result, read as collect will count them (a single-arm run is one arm)
    counted, _ = arm_results.read(
        Paths(slug, root).results_dir, arm_list, list(config.seeds), rules, config.primary_metric
    )
    done = sum(len(values) for values in counted.values())
    bars = task_bars(seen, config, counted, rules.failed)
    finished, running = task_progress.share_done(bars)
    metric = latest_metric(seen.progress.metrics, config)
    return {
        "slug": slug,
        "status": str(PageStatus.RUNNING),
        "progress": f"{_progress_text(seen, config)} ({'seed' if config.single_arm else 'task'} "
        f"{min(done + 1, seeds)} of {seeds})",
        "latest_metric": metric,
        "loss": seen.progress.loss,
        "anomalies": [a.as_dict() for a in seen.anomalies],
        "elapsed_hours": round(elapsed_h, 4),
        "remaining_hours": remaining_hours(
            max(done, finished), seeds, running, elapsed_h, estimated_hours(page, seen.record)
        ),
        "tasks": [{**bar.as_dict(), "latest_metric": latest_metric(bar.progress.metrics, config)} for bar in bars],
        "autofix": _autofix_text(seen.record),
        "autofix_applied": bool((seen.record.autofix or {}).get("applied", True)),
    }


def estimated_hours(page: pages.Page, record: RunRecord | None) -> object:
    """The run's estimate in hours: the record's figure (the page holds it rounded up to whole hours, as the wiki's
    schema types it), else the page's (a run the wiki's agent deployed has no record)."""
    figure = (record.details if record is not None else {}).get("estimated_hours")
    return figure if finite(figure) else page.get("estimated_hours")


def task_bars(
    seen: Inspection, config: ExperimentConfig, counted: dict[str, dict], failed: dict[str, int]
) -> list[task_progress.TaskBar]:
    """Each task's bar: the tasks as launched (the config's arm × seed for a run without that list)."""
    tasks = record_tasks(seen.record) or arms.tasks(list(config.arms), [str(s) for s in config.seeds])
    words = {str(seed) if config.single_arm else f"{arm}:{seed}" for arm, values in counted.items() for seed in values}
    return task_progress.task_bars(
        tasks, seen.tail or seen.lines, words, failed, alive=seen.state.alive, in_order=seen.in_order
    )


def remaining_hours(
    done: int, tasks: int, current: float | None, elapsed_h: float, estimated_h: object
) -> float | None:
    """Hours left, never negative: elapsed time scaled by the share of tasks still to run (finished tasks plus the
    current one's step fraction); before any progress, the page's estimate minus the time elapsed; None when
    neither is known. `current` is the running tasks' step fractions summed (several run at once in parallel).
    The share is capped at 1: the last task's final `step=N/N` line, read after the tasks all counted, is not
    more than the whole run."""
    left = max(tasks - min(done, tasks), 0)
    fraction = min((min(done, tasks) + min(max(current or 0.0, 0.0), left)) / max(tasks, 1), 1.0)
    if fraction > 0:
        return round(max(elapsed_h * (1 - fraction) / fraction, 0.0), 4)
    if finite(estimated_h) and estimated_h > 0:
        return round(max(estimated_h - elapsed_h, 0.0), 4)
    return None


# a metric the config names is also read under these split prefixes: `val_accuracy` for `accuracy`
SPLIT_PREFIXES = ("", "val_", "valid_", "validation_", "eval_", "test_")


def latest_metric(logged: dict, config: ExperimentConfig) -> dict | None:
    """The latest value of a metric the config names (the primary one first), as {"name", "value"}; never a
    hyperparameter or other number of the progress line (`lr=`, `grad_norm=`, `tokens_per_s=`)."""
    for wanted in dict.fromkeys([config.primary_metric, *config.metrics]):
        for prefix in SPLIT_PREFIXES if wanted else ():
            if prefix + wanted in logged:
                return {"name": prefix + wanted, "value": logged[prefix + wanted]}
    return None


def _progress_text(seen: Inspection, config: ExperimentConfig) -> str:
    """The step line when the program logs one; for `progress: none` programs, running and the log's age."""
    if seen.progress.step is not None or config.progress != "none":
        return seen.progress.describe()
    age = "unknown" if seen.idle_seconds is None else f"{seen.idle_seconds / 60:.0f} min ago"
    return f"running (no progress lines by design; log last written {age})"


def _autofix_text(record: RunRecord) -> str:
    fix = record.autofix
    return f"{fix['anomaly']} → {fix['change']}" if fix else ""
