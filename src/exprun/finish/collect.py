"""Phases 3–4: is the run alive? If so, report progress and touch nothing; if not, collect.

Collecting reads the seed files, decides the outcome, fills the page's
Results and Analysis, completes the page and appends to the wiki log.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.files import read_json
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig, load_run_config
from exprun.finish import completion
from exprun.gate import approval as gate
from exprun.logs import monitor, runlog
from exprun.machines.launchers.base import RunRecord, RunState, latest_copy
from exprun.run import attempts, autofix, autofix_tasks, foreign
from exprun.run.backends import Run, open_run
from exprun.trust import evidence, integrity, provenance, snapshot
from exprun.verdict import analysis_note, arm_results, arm_stats, arm_sweeps, plots, reports, run_scope
from exprun.verdict.results import CountRules, read_seed_files, summarize
from exprun.wiki import lifecycle, pages
from exprun.wiki.lifecycle import PageStatus

CRASH_KINDS = ("traceback", "killed", "command_not_found", "nonzero_exit", "lost", "guard_refused")
FAILED_SEED = re.compile(r"^seed (-?\d+) failed with exit status (\d+)", re.M)
MONITOR_LINES = 200


@dataclass
class Inspection:
    record: RunRecord
    state: RunState
    lines: list[str]
    progress: monitor.Progress
    anomalies: list[monitor.Anomaly]
    idle_seconds: float | None


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
        raise ExprunError(f"{slug}: no run record at {paths.run}; was it deployed with `snakemake deploy_{slug}`?")
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
    return Inspection(record, state, lines, progress, anomalies, idle)


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
    fraction = (min(done, seeds) + (seen.progress.fraction or 0.0)) / seeds
    remaining: float | None
    if fraction > 0:
        remaining = round(elapsed_h * (1 - fraction) / fraction, 2)
    else:
        remaining = (
            round(max(float(page.get("estimated_hours") or 0) - elapsed_h, 0), 2)
            if page.get("estimated_hours")
            else None
        )
    primary = config.primary_metric
    latest = seen.progress.metrics
    name = primary if primary in latest else next(iter(latest), None)
    return {
        "slug": slug,
        "status": str(PageStatus.RUNNING),
        "progress": f"{_progress_text(seen, config)} ({'seed' if config.single_arm else 'task'} "
        f"{min(done + 1, seeds)} of {seeds})",
        "latest_metric": {"name": name, "value": latest[name]} if name else None,
        "loss": seen.progress.loss,
        "anomalies": [a.as_dict() for a in seen.anomalies],
        "elapsed_hours": round(elapsed_h, 2),
        "remaining_hours": remaining,
        "autofix": _autofix_text(seen.record),
        "autofix_applied": bool((seen.record.autofix or {}).get("applied", True)),
    }


def _progress_text(seen: Inspection, config: ExperimentConfig) -> str:
    """The step line when the program logs one; for `progress: none` programs, running and the log's age."""
    if seen.progress.step is not None or config.progress != "none":
        return seen.progress.describe()
    age = "unknown" if seen.idle_seconds is None else f"{seen.idle_seconds / 60:.0f} min ago"
    return f"running (no progress lines by design; log last written {age})"


def _autofix_text(record: RunRecord) -> str:
    fix = record.autofix
    return f"{fix['anomaly']} → {fix['change']}" if fix else ""


def seed_files(slug: str, root: Path, config: ExperimentConfig, rules: CountRules):
    """This run's seed files: the configured seeds, by the rules of count_rules."""
    return read_seed_files(Paths(slug, root).results_dir, list(config.seeds), rules)


def crash_of(anomalies: list[monitor.Anomaly], lines: list[str], summary) -> dict | None:
    """The run's abnormal end, naming the seeds it cost; None when it ended cleanly."""
    anomaly = next((a for a in anomalies if a.kind in CRASH_KINDS), None)
    if anomaly is None:
        return None
    crash = anomaly.as_dict()
    failed = {int(seed): int(code) for seed, code in FAILED_SEED.findall("\n".join(lines))}
    lost = sorted(set(summary.missing_seeds) | set(summary.failed_seeds) | set(failed))
    crash["seeds"] = lost
    crash["seed_exit_codes"] = {str(k): v for k, v in sorted(failed.items())}
    return crash


def finish(
    slug: str, settings: Settings, root: Path, page: pages.Page, seen: Inspection, task_logs: list[str] | None = None
) -> dict:
    """Collect a finished run: stats, outcome, page, plot, wiki log."""
    paths = Paths(slug, root)
    config = run_config(slug, root, seen.record)
    arm_list = list(config.arms)
    if not config.single_arm:
        return finish_arms(slug, settings, root, page, seen, arm_list, config, task_logs or [])
    found = seed_files(slug, root, config, count_rules(slug, root, seen.record, seen))
    kept = evidence.archive(paths, seen.record.attempt, found.raw)  # the counted set is fixed before any page write
    summary = summarize(found.records, config, found.rejected, found.ignored)
    if summary.missing_seeds and not seen.record.foreign:
        summary.strays = run_scope.strays(slug, root, seen.record.started_at)
    crash = crash_of(seen.anomalies, seen.lines, summary)
    plot_link = None
    if plots.seed_plot(summary, paths.plot, page.get("title") or slug):
        plot_link = paths.plot.relative_to(paths.page.parent).as_posix()
    key = reports.key_result(summary, crash)
    results_text = reports.results_section(summary, plot_link, crash)
    analysis = reports.analysis_section(summary, crash, seen.record.autofix or None)
    if seen.record.foreign:
        analysis += f"\n- This run was {foreign.NOTE}."
    note, note_failed = analysis_note.paragraph(settings, str(page.get("hypothesis") or ""), results_text, analysis)
    data = {
        "slug": slug,
        "status": str(PageStatus.COMPLETED),
        "title": page.get("title") or slug,
        "outcome": summary.outcome,
        "key_result": key,
        "crash": crash,
        "page": str(paths.page),
        "env": seen.record.backend.env_label,
        "metrics": [
            {
                "metric": m.metric,
                "mean": m.mean,
                "std": m.std,
                "n": m.n,
                "baseline": m.baseline,
                "delta": m.delta,
                "relative_delta": m.relative_delta,
            }
            for m in summary.metrics
        ],
        "succeeded_seeds": summary.succeeded_seeds,
        "missing_seeds": summary.missing_seeds,
        "failed_seeds": {str(k): v for k, v in summary.failed_seeds.items()},
        "reasons": summary.reasons,
        "criteria": summary.checks,
        "ignored_files": summary.ignored_files,
        "exit_code": seen.state.exit_code,
        "run_id": seen.record.run_id,
        "attempt": seen.record.attempt,
        "sanity_skipped": seen.record.sanity_skipped,
        "analysis_llm": note_failed or ("added" if note else ""),
        "launched_by_exprun": not seen.record.foreign,
        "task_logs": task_logs or [],
        "log_file": Paths(slug, root).log.relative_to(root).as_posix(),
        "evidence": kept,
        "snapshot": seen.record.snapshot,
        "approved_hash": seen.record.approved_hash,
        "strays": summary.strays,
    }
    data["report"] = reports.run_report(data, summary)
    return completion.complete(
        paths, seen.record, {"Results": results_text, "Analysis": analysis + note}, summary.outcome, key, data
    )


def finish_arms(
    slug: str,
    settings: Settings,
    root: Path,
    page: pages.Page,
    seen: Inspection,
    arm_list: list,
    config: ExperimentConfig,
    task_logs: list[str],
) -> dict:
    """Collect a multi-arm run: per-arm intervals, paired differences, classes, outcome, page, plot, log."""
    paths = Paths(slug, root)
    primary = config.primary_metric
    raw: dict[str, bytes] = {}
    by_metric, not_counted = arm_results.read_metrics(
        paths.results_dir,
        arm_list,
        list(config.seeds),
        count_rules(slug, root, seen.record, seen),
        primary,
        raw,
    )
    kept = evidence.archive(paths, seen.record.attempt, raw)  # the counted set is fixed before any page write
    summary = arm_results.summarize(
        arm_list,
        by_metric[primary],
        not_counted,
        config,
        settings.ablation.essential_pct,
        settings.ablation.contributing_pct,
        by_metric,
    )
    anomaly = next((a for a in seen.anomalies if a.kind in CRASH_KINDS), None)
    failed = autofix_tasks.failed_tasks(seen.record, seen.lines, paths.log)
    crash = None
    if anomaly or failed:
        crash = {
            **(
                anomaly.as_dict()
                if anomaly
                else {
                    "kind": "nonzero_exit",
                    "detail": "tasks failed",
                    "suggestion": monitor.SUGGESTIONS["nonzero_exit"],
                }
            ),
            "tasks": failed,
        }
    crash_line = (
        (f"Tasks that failed: {', '.join(f'{t} (exit {c})' for t, c in failed.items())}; {crash['detail']}")
        if crash
        else ""
    )
    results_text = arm_results.results_section(summary)
    if arm_plot_written := plots.arm_plot(summary, paths.plot, page.get("title") or slug):
        results_text += f"\n\n![arms: mean and 95 % CI]({paths.plot.relative_to(paths.page.parent).as_posix()})"
    sweep_png = paths.plot.with_name(f"{paths.plot.stem}_sweep.png")
    if sweep_plot_written := plots.sweep_plot(summary, sweep_png, page.get("title") or slug):
        results_text += (
            f"\n\n![sweep: {primary} against each swept value, mean and 95 % CI]"
            f"({sweep_png.relative_to(paths.page.parent).as_posix()})"
        )
    analysis = arm_results.analysis_section(summary)
    missing = any(why == "no result file" for per_arm in not_counted.values() for why in per_arm.values())
    stray = run_scope.strays(slug, root, seen.record.started_at) if missing and not seen.record.foreign else []
    if stray:
        results_text += "\n\n" + reports.strays_line(stray, slug)
    if crash:
        results_text += f"\n\nRun ended abnormally: {crash_line}"
        analysis += f"\n- crash: {crash_line}; suggested direction: {crash['suggestion']}"
    rerun = autofix_tasks.rerun_tasks(seen.record)
    if rerun:  # their numbers are the rerun's, with the changed setting: the table must not hide it
        results_text += (
            f"\n\nRerun by the automatic fix (their numbers come from the rerun, with the changed "
            f"setting): {', '.join(rerun)} — {seen.record.autofix.get('change')}."
        )
    if seen.record.autofix:
        analysis += "\n" + reports.autofix_line(seen.record.autofix)
    if seen.record.foreign:
        analysis += f"\n- This run was {foreign.NOTE}."
    key = arm_results.key_result(summary) + (f" {crash_line}." if crash else "")
    note, note_failed = analysis_note.paragraph(settings, str(page.get("hypothesis") or ""), results_text, analysis)
    analysis += note
    data = {
        "slug": slug,
        "status": str(PageStatus.COMPLETED),
        "title": page.get("title") or slug,
        "outcome": summary.outcome,
        "key_result": key,
        "crash": crash,
        "page": str(paths.page),
        "env": seen.record.backend.env_label,
        "primary_metric": primary,
        "method": arm_stats.METHOD,
        "reasons": summary.reasons,
        "arms": [
            {
                "name": a.name,
                "role": a.role,
                "factor": a.factor,
                **arm_stats.interval_json(summary.intervals[a.name]),
                "values": {str(k): v for k, v in summary.values[a.name].items()},
                "not_counted": {str(k): v for k, v in summary.not_counted[a.name].items()},
                "class": summary.classes.get(a.name),
            }
            for a in arm_list
        ],
        "differences": [
            {
                "arm": d.arm,
                "reference": d.reference,
                "seeds": d.seeds,
                "relative": d.relative,
                **arm_stats.interval_json(d.delta),
            }
            for d in summary.differences
        ],
        "criteria": summary.checks,
        "sweeps": arm_sweeps.sweep_data(summary),
        "analysis_llm": note_failed or ("added" if note else ""),
        "run_id": seen.record.run_id,
        "attempt": seen.record.attempt,
        "task_logs": task_logs,
        "autofix": seen.record.autofix or None,
        "rerun_tasks": rerun,
        "log_file": paths.log.relative_to(root).as_posix(),
        "launched_by_exprun": not seen.record.foreign,
        "plot": bool(arm_plot_written),
        "sweep_plot": bool(sweep_plot_written),
        "evidence": kept,
        "snapshot": seen.record.snapshot,
        "approved_hash": seen.record.approved_hash,
        "strays": stray,
    }
    data["report"] = reports.arms_run_report(data, results_text, analysis)
    return completion.complete(
        paths, seen.record, {"Results": results_text, "Analysis": analysis}, summary.outcome, key, data
    )


def check_once(slug: str, settings: Settings, root: Path, page: pages.Page, now: datetime | None = None) -> dict:
    """Inspect; apply the one automatic fix if due; report progress while alive, else collect."""
    with open_run(load_record(slug, root), root) as run:
        seen = inspect(run, settings)
        if autofix.apply(slug, settings, root, seen, run):
            seen = inspect(run, settings)
        if seen.state.alive:
            refresh_run_log(run, root)
            data = progress_data(slug, page, seen, root, now or datetime.now(timezone.utc))
            data["report"] = reports.progress_report(data)
            return data
        run.fetch()
        task_logs = refresh_run_log(run, root)
    return finish(slug, settings, root, page, seen, task_logs)


def refresh_run_log(run: Run, root: Path) -> list[str]:
    """run_log as one file for runs whose tasks log separately; the task logs' names (relative) for reports."""
    logs = run.task_logs()
    if logs:
        runlog.combine(Paths(run.record.slug, root).log, logs, root)
    return [runlog.shown(log, root) for log in logs]


def collect(slug: str, settings: Settings, root: Path = Path("."), now: datetime | None = None) -> dict:
    """One check: progress data while alive (wiki untouched apart from an autofix log line), run data once ended.
    One collect of a slug at a time: a second is told at once, and the page is read again under the lock."""
    with attempts.collect_lock(slug, root):
        page = lifecycle.find_experiment(slug, root)
        if completion.resumable(slug, root):  # a collect that stopped half-way: finish it, write nothing twice
            return completion.finish(Paths(slug, root))
        lifecycle.require_collectable(page)
        return check_once(slug, settings, root, page, now)


def wait_and_collect(slug: str, settings: Settings, root: Path = Path("."), say=print) -> dict:
    """Full mode: poll until the session ends (never killing it), then collect."""
    page = lifecycle.find_experiment(slug, root)
    lifecycle.require_collectable(page)
    estimate_h = float(page.get("estimated_hours") or 0)
    started = time.monotonic()
    warned = False
    while True:
        try:
            with attempts.collect_lock(slug, root):  # between checks, another collect may take its turn
                page = lifecycle.find_experiment(slug, root)
                if completion.resumable(slug, root):
                    return completion.finish(Paths(slug, root))
                lifecycle.require_collectable(page)
                data = check_once(slug, settings, root, page)
        except attempts.Busy:
            time.sleep(settings.collect.poll_s)
            continue
        if data["status"] == PageStatus.COMPLETED:
            return data
        waited_h = (time.monotonic() - started) / 3600
        anomalies = ", ".join(a["kind"] for a in data["anomalies"]) or "none"
        fix = f", autofix: {data['autofix']}" if data["autofix"] else ""
        say(
            f"[{datetime.now():%H:%M:%S}] {slug}: running — {data['progress']}, loss {data['loss']}, "
            f"anomalies: {anomalies}{fix}"
        )
        if estimate_h and waited_h > 2 * estimate_h and not warned:
            say(f"warning: {slug} has run over 2× its estimate ({estimate_h} h); still waiting, not stopping it")
            warned = True
        time.sleep(settings.collect.poll_s)
