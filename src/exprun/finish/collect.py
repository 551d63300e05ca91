"""Phases 3–4: is the run alive (finish/inspection.py)? If so, report progress and touch nothing; if not, collect.

Collecting reads the seed files, decides the outcome, fills the page's
Results and Analysis, completes the page and appends to the wiki log.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path

from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.finish import completion
from exprun.finish.inspection import (
    CRASH_KINDS,
    Inspection,
    count_rules,
    inspect,
    load_record,
    progress_data,
    run_config,
)
from exprun.logs import monitor, runlog
from exprun.run import attempts, autofix, autofix_tasks, foreign
from exprun.run.backends import Run, open_run
from exprun.trust import evidence
from exprun.verdict import analysis_note, arm_results, arm_stats, arm_sweeps, plots, reports, run_scope
from exprun.verdict.results import CountRules, read_seed_files, summarize
from exprun.wiki import lifecycle, pages
from exprun.wiki.lifecycle import PageStatus

FAILED_SEED = re.compile(r"^seed (-?\d+) failed with exit status (\d+)", re.M)


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


def _collected(paths: Paths, page: pages.Page, seen: Inspection, outcome: str, key: str, crash: dict | None) -> dict:
    """What every collect records of its run, whatever its arms (collected.json, the JSON report)."""
    record = seen.record
    return {
        "slug": paths.slug,
        "status": str(PageStatus.COMPLETED),
        "title": page.get("title") or paths.slug,
        "outcome": outcome,
        "key_result": key,
        "crash": crash,
        "page": str(paths.page),
        "env": record.backend.env_label,
        "run_id": record.run_id,
        "attempt": record.attempt,
        "launched_by_exprun": not record.foreign,
        "log_file": paths.log.relative_to(paths.root).as_posix(),
        "snapshot": record.snapshot,
        "approved_hash": record.approved_hash,
    }


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
        **_collected(paths, page, seen, summary.outcome, key, crash),
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
        "sanity_skipped": seen.record.sanity_skipped,
        "analysis_llm": note_failed or ("added" if note else ""),
        "task_logs": task_logs or [],
        "evidence": kept,
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
        **_collected(paths, page, seen, summary.outcome, key, crash),
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
        "task_logs": task_logs,
        "autofix": seen.record.autofix or None,
        "rerun_tasks": rerun,
        "plot": bool(arm_plot_written),
        "sweep_plot": bool(sweep_plot_written),
        "evidence": kept,
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
