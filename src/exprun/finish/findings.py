"""What a finished run found, in one shape whatever the experiment's arms.

A single-arm run (results/<slug>/seed_N.json, a metric table against the baseline) and a multi-arm run
(results/<slug>/<arm>/seed_N.json, an arm table with intervals, differences, classes and sweeps) are read
and worded by their own statistics, judged by the one verdict engine, and come out here as `Findings`: the
page's Results and Analysis, the key result, the crash, and the JSON fields their shape adds. One `finish`
(collect.py) then writes the page, the report and the log for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.finish.inspection import CRASH_KINDS, Inspection, count_rules
from exprun.logs import monitor
from exprun.run import autofix_tasks
from exprun.trust import evidence
from exprun.verdict import arm_results, arm_stats, arm_sweeps, plots, reports, run_scope
from exprun.verdict.results import read_seed_files, summarize


@dataclass
class Findings:
    outcome: str
    reasons: list[str]
    results: str  # the page's Results block
    analysis: str  # the page's Analysis block (without the LLM's note)
    key: str
    crash: dict | None
    counted: int  # results counted (seeds, or arm × seed tasks)
    evidence: dict
    strays: list[str]
    fields: dict = field(default_factory=dict)  # what this shape adds to collected.json


def crash_of(seen: Inspection, paths: Paths, lost_seeds: list[int] | None = None) -> dict | None:
    """The run's abnormal end and what it cost (see crash); None for a clean end."""
    return crash(seen.anomalies, autofix_tasks.failed_tasks(seen.record, seen.lines, paths.log), lost_seeds)


def crash(anomalies: list[monitor.Anomaly], failed: dict[str, int], lost_seeds: list[int] | None) -> dict | None:
    """The first crash-kind anomaly (else the failed tasks themselves) with the tasks that failed (`tasks`:
    task → exit status). A single-arm run also names its seeds without a counted result (`lost_seeds`)."""
    anomaly = next((a for a in anomalies if a.kind in CRASH_KINDS), None)
    if anomaly is None and not failed:
        return None
    found = (
        anomaly.as_dict()
        if anomaly
        else {
            "kind": "nonzero_exit",
            "detail": "tasks ended with a non-zero exit status",
            "suggestion": monitor.SUGGESTIONS["nonzero_exit"],
        }
    )
    found["tasks"] = failed
    if lost_seeds is not None:
        failed_seeds = {int(task): code for task, code in failed.items() if ":" not in task}
        found["seeds"] = sorted(set(lost_seeds) | set(failed_seeds))
        found["seed_exit_codes"] = {str(k): v for k, v in sorted(failed_seeds.items())}
    return found


def _strays(paths: Paths, seen: Inspection, missing: bool) -> list[str]:
    """Seed files written outside the results folder, looked for only when a result is missing."""
    if not missing or seen.record.foreign:
        return []
    return run_scope.strays(paths.slug, paths.root, seen.record.started_at)


def _plot_link(paths: Paths, png) -> str:
    return png.relative_to(paths.page.parent).as_posix()


def single_arm(paths: Paths, seen: Inspection, config: ExperimentConfig, title: str) -> Findings:
    rules = count_rules(paths.slug, paths.root, seen.record, seen)
    found = read_seed_files(paths.results_dir, list(config.seeds), rules)
    kept = evidence.archive(paths, seen.record.attempt, found.raw)  # the counted set is fixed before any page write
    summary = summarize(found.records, config, found.rejected, found.ignored)
    summary.strays = _strays(paths, seen, bool(summary.missing_seeds))
    crash = crash_of(seen, paths, sorted(set(summary.missing_seeds) | set(summary.failed_seeds)))
    plot_link = _plot_link(paths, paths.plot) if plots.seed_plot(summary, paths.plot, title) else None
    fields = {
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
        "ignored_files": summary.ignored_files,
    }
    return Findings(
        summary.outcome,
        summary.reasons,
        reports.results_section(summary, plot_link, crash),
        reports.analysis_section(summary, crash, seen.record.autofix or None),
        reports.key_result(summary, crash),
        crash,
        len(summary.succeeded_seeds),
        kept,
        summary.strays,
        {**fields, "criteria": summary.checks},
    )


def arms(paths: Paths, seen: Inspection, config: ExperimentConfig, title: str, settings: Settings) -> Findings:
    arm_list, primary = list(config.arms), config.primary_metric
    rules = count_rules(paths.slug, paths.root, seen.record, seen)
    raw: dict[str, bytes] = {}
    by_metric, not_counted = arm_results.read_metrics(
        paths.results_dir, arm_list, list(config.seeds), rules, primary, raw
    )
    kept = evidence.archive(paths, seen.record.attempt, raw)  # the counted set is fixed before any page write
    ablation = settings.ablation
    summary = arm_results.summarize(
        arm_list, by_metric[primary], not_counted, config, ablation.essential_pct, ablation.contributing_pct, by_metric
    )
    crash = crash_of(seen, paths)
    crashed = reports.crash_text(crash)
    results = arm_results.results_section(summary)
    if arm_plot := plots.arm_plot(summary, paths.plot, title):
        results += f"\n\n![arms: mean and 95 % CI]({_plot_link(paths, paths.plot)})"
    sweep_png = paths.plot.with_name(f"{paths.plot.stem}_sweep.png")
    if sweep_plot := plots.sweep_plot(summary, sweep_png, title):
        results += f"\n\n![sweep: {primary} against each swept value, mean and 95 % CI]({_plot_link(paths, sweep_png)})"
    analysis = arm_results.analysis_section(summary)
    missing = any(why == "no result file" for per_arm in not_counted.values() for why in per_arm.values())
    strays = _strays(paths, seen, missing)
    if strays:
        results += "\n\n" + reports.strays_line(strays, paths.slug)
    if crash:
        results += f"\n\nRun ended abnormally: {crashed}"
        analysis += f"\n- crash: {crashed}; suggested direction: {crash['suggestion']}"
    rerun = autofix_tasks.rerun_tasks(seen.record)
    if rerun:  # their numbers are the rerun's, with the changed setting: the table must not hide it
        results += (
            f"\n\nRerun by the automatic fix (their numbers come from the rerun, with the changed "
            f"setting): {', '.join(rerun)} — {seen.record.autofix.get('change')}."
        )
    if seen.record.autofix:
        analysis += "\n" + reports.autofix_line(seen.record.autofix)
    key = arm_results.key_result(summary)
    if crash:  # said as a single-arm key result says it
        key = f"{key.removesuffix('.')}; {crashed}."
    fields = {
        "primary_metric": primary,
        "method": arm_stats.METHOD,
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
        "autofix": seen.record.autofix or None,
        "rerun_tasks": rerun,
        "plot": bool(arm_plot),
        "sweep_plot": bool(sweep_plot),
    }
    counted = sum(len(values) for values in summary.values.values())
    return Findings(summary.outcome, summary.reasons, results, analysis, key, crash, counted, kept, strays, fields)
