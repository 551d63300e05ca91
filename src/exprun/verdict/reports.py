"""DEPLOY_REPORT, progress report, RUN_REPORT and the page's Results/Analysis text.

Each report is built from one plain data dict, printed either as the seed's
Markdown or as JSON for agents, so both always say the same thing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from exprun.core.durations import human_hours
from exprun.core.invocation import snakemake_command
from exprun.verdict.estimate import estimate_text
from exprun.verdict.words import MORE_SEEDS_WOULD_TELL, NO_BASELINE

if TYPE_CHECKING:  # results brings the verdict engine; a deploy report needs none of it
    from exprun.verdict.results import Summary


def deploy_report(data: dict) -> str:
    slug = data["slug"]
    review = (
        ""
        if data.get("review") == "reviewed"
        else f"- Review: unreviewed ({data.get('review_reason') or 'no review run'})\n"
    )
    skipped = (
        "- Sanity: SKIPPED by --skip-sanity (no sanity run checked this code)\n" if data.get("sanity_skipped") else ""
    )
    return (
        f"# Deploy Report: {data['title']}\n\n"
        "### Status: DEPLOYED ✅\n\n"
        f"- Session: {data['session']}\n"
        f"- Environment: {data['environment']}\n"
        f"- Log file: {data['log_file']}\n"
        f"{_task_logs_line(data)}"
        f"- Code: {data['code']}"
        + (f" (runs as approved from {data['snapshot']})" if data.get("snapshot") else "")
        + "\n"
        f"- Estimated: {estimate_text(data['estimated_hours'], data.get('estimate_lower_bound', False))} "
        f"(expected completion: {data['expected_completion']})"
        + (f" — {data['estimate_basis']}" if data.get("estimate_basis") else "")
        + "\n"
        f"{review}"
        f"{skipped}"
        "\n### Next Steps\n\n"
        f"1. Monitor progress: `exprun watch {slug}` (live), `{snakemake_command('status')}` (or `/exp-status`)\n"
        f"2. Check this experiment: `{snakemake_command(f'collect_{slug}')}` (or `/exp-run {slug} --collect`)\n"
        "3. In /research pipeline: progress saved to wiki/outputs/pipeline-progress.md\n"
        "\n### Quick Commands\n"
        "```bash\n"
        f"{_quick_commands(data)}"
        "```\n"
    )


def _task_logs_line(data: dict) -> str:
    """Runs whose tasks log separately: run_log combines them (refreshed at every collect); name the first few."""
    logs = data.get("task_logs") or []
    if not logs:
        return ""
    more = f" … ({len(logs)} in all)" if len(logs) > 3 else ""
    return f"- Task logs: {', '.join(logs[:3])}{more} (combined into the log file at every collect)\n"


def _quick_commands(data: dict) -> str:
    """The commands that fit where the run is; `exprun watch` for every place (what `tail -f` used to be: a bar per
    task, ETA and anomalies, wherever the log is)."""
    watch = f"exprun watch {data['slug']}\n"
    if data["environment"].startswith("snakemake jobs"):
        return f"# Snakemake jobs: the running snakemake shows them; watch them live\n{watch}"
    if data["environment"].startswith("slurm"):
        return (
            "# SLURM: check the array's tasks\n"
            f"squeue -r -j {data['session']}\n\n"
            "# SLURM: watch it live (a bar per task, ETA, anomalies; Ctrl-C leaves it running)\n"
            f"{watch}"
        )
    if data["environment"].startswith("remote"):
        return (
            "# Remote: check if still running\n"
            f"python3 tools/remote.py check --name {data['session']}\n\n"
            "# Remote: watch it live (a bar per task, ETA, anomalies; Ctrl-C leaves it running)\n"
            f"{watch}\n"
            "# Remote: tail log\n"
            f"python3 tools/remote.py tail-log --name {data['session']} --lines 30\n"
        )
    return (
        "# Local: check if still running\n"
        f"screen -ls | grep {data['session']}\n\n"
        "# Local: watch it live (a bar per task, ETA, anomalies; Ctrl-C leaves it running)\n"
        f"{watch}"
    )


def progress_report(data: dict) -> str:
    anomalies = (
        "; ".join(f"{a['kind']}: {a['detail']} (suggested: {a['suggestion']})" for a in data["anomalies"]) or "none"
    )
    metric = data.get("latest_metric")
    metric_text = f"{metric['name']} = {metric['value']:.4f}" if metric else "none logged yet"
    remaining = data.get("remaining_hours")
    lines = [
        f"Experiment {data['slug']}: RUNNING",
        f"Progress: {data['progress']}",
        f"Latest metric: {metric_text}",
        f"Anomalies: {anomalies}",
        f"Estimated remaining: ~{human_hours(remaining)}" if remaining is not None else "Estimated remaining: unknown",
    ]
    if data.get("autofix"):
        applied = data.get("autofix_applied", True)
        lines.append(f"Automatic fix {'applied' if applied else 'not applied'}: {data['autofix']}")
        if data["anomalies"]:
            lines.append(
                "No further automatic fix: one was already "
                + ("applied to" if applied else "tried on")
                + " this experiment."
            )
    lines.append(f"Run `{snakemake_command('status')}` to monitor all running experiments.")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _delta(metric) -> str:
    if metric.delta is None:
        return "—"
    rel = f" ({metric.relative_delta:+.1%})" if metric.relative_delta is not None else ""
    return f"{metric.delta:+.4f}{rel}"


def baseline_line(summary: Summary) -> str:
    return f"Baseline: {summary.baseline_label}" + (f" — {summary.baseline_source}" if summary.baseline_source else "")


def results_table(summary: Summary) -> list[str]:
    lines = [
        baseline_line(summary),
        "",
        "| Metric | Baseline | Ours (mean±std) | Δ |",
        "|--------|----------|-----------------|---|",
    ]
    for m in summary.metrics:
        lines.append(f"| {m.metric} | {_fmt(m.baseline)} | {m.mean:.4f}±{m.std:.4f} | {_delta(m)} |")
    return lines


def per_seed_table(summary: Summary) -> list[str]:
    """One row per counted seed; a metric whose baseline ran beside it on each seed gets its baseline column,
    so a reader sees the pairs the Δ interval is computed from."""
    if not summary.per_seed:
        return []
    values = {(row.seed, row.metric): row.value for row in summary.per_seed}
    paired = {(row.seed, row.metric): row.baseline for row in summary.per_seed if not math.isnan(row.baseline)}
    with_baseline = {metric for _, metric in paired}
    columns = []  # (heading, metric, where its cells are)
    for m in summary.metrics:
        columns.append((m.metric, m.metric, values))
        if m.metric in with_baseline:
            columns.append((f"{m.metric} (baseline)", m.metric, paired))
    lines = ["| Seed | " + " | ".join(heading for heading, _, _ in columns) + " |", "|------|" + "---|" * len(columns)]
    for seed in sorted({row.seed for row in summary.per_seed}):
        cells = [_fmt(cells_of.get((seed, metric))) for _, metric, cells_of in columns]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return lines


def crash_text(crash: dict | None) -> str:
    """ "the run crashed (seeds 1, 2: exit status 1)" — the seeds or tasks it cost, named; "" for a clean end."""
    if not crash:
        return ""
    text = f"the run crashed ({crash['detail']})"
    if "seeds" in crash:  # a single-arm run: its seeds without a counted result
        seeds = crash["seeds"]
        codes = crash.get("seed_exit_codes") or {}
        named = ", ".join(f"{s} (exit {codes[str(s)]})" if str(s) in codes else str(s) for s in seeds)
        return text + (f"; seed(s) without a counted result: {named}" if seeds else "")
    failed = crash.get("tasks") or {}
    return text + ("; tasks that failed: " + ", ".join(f"{t} (exit {c})" for t, c in failed.items()) if failed else "")


def key_result(summary: Summary, crash: dict | None = None) -> str:
    """One sentence: the primary metric, mean ± std, Δ vs baseline; a crash is always said."""
    primary = summary.metric(summary.primary)
    crashed = crash_text(crash)
    if primary is None:
        return f"No usable results: {crashed or 'no seed produced its primary metric'}."
    text = f"{primary.metric} {primary.mean:.4f} ± {primary.std:.4f} over {primary.n} seed(s)"
    if primary.baseline is not None:
        text += f" vs {summary.short_baseline} {primary.baseline:.4f} (Δ {_delta(primary)})"
    return text + f"; outcome {summary.outcome}" + (f"; {crashed}." if crashed else ".")


def seed_status_lines(summary: Summary) -> list[str]:
    lines = []
    if summary.failed_seeds:
        lines += [f"- seed {s}: not counted — {why}" for s, why in sorted(summary.failed_seeds.items())]
    if summary.missing_seeds:
        lines.append(f"- missing result files for seed(s): {', '.join(map(str, summary.missing_seeds))}")
    if summary.ignored_files:
        lines.append(f"- ignored (not a configured seed of this run): {', '.join(summary.ignored_files)}")
    if summary.strays:
        lines.append("- " + strays_line(summary.strays))
    return lines


def strays_line(strays: list[str], slug: str = "<slug>") -> str:
    """Where a program wrote seed files instead of the results folder exprun gave it."""
    return (
        f"seed files written outside results/{slug}/ during this run, never counted: {', '.join(strays)} — the "
        f"program must write where --results-dir ($EXPRUN_RESULTS_DIR) says"
    )


def results_section(summary: Summary, plot_link: str | None, crash: dict | None) -> str:
    lines = results_table(summary) if summary.metrics else ["No seed produced results."]
    if summary.metrics:
        lines += ["", "Per seed:", ""] + per_seed_table(summary)
    status = seed_status_lines(summary)
    if status:
        lines += [""] + status
    if plot_link:
        lines += ["", f"![per-seed metrics vs baseline]({plot_link})"]
    if crash:
        lines += ["", f"Run ended abnormally: {crash_text(crash)}", f"Suggested fix: {crash['suggestion']}"]
    return "\n".join(lines)


def autofix_line(autofix: dict) -> str:
    """The Analysis bullet of the one automatic fix, applied or not."""
    done = "applied" if autofix.get("applied", True) else "planned but not applied"
    return f"- automatic fix {done} during the run: {autofix.get('anomaly')} → {autofix.get('change')}"


def analysis_section(summary: Summary, crash: dict | None, autofix: dict | None) -> str:
    lines = [f"Outcome: **{summary.outcome}** ({len(summary.succeeded_seeds)} seed(s) succeeded)."]
    lines += [f"- {reason}" for reason in summary.reasons]
    for m in summary.metrics:
        spread = f"std {m.std:.4f} ({m.std / abs(m.mean):.1%} of the mean)" if m.mean else f"std {m.std:.4f}"
        lines.append(f"- {m.metric}: mean {m.mean:.4f}, {spread} over {m.n} seed(s)")
    lines += seed_status_lines(summary)
    if autofix:
        lines.append(autofix_line(autofix))
    if crash:
        lines.append(f"- crash: {crash_text(crash)}; suggested direction: {crash['suggestion']}")
    lines.append("- Preliminary, written by exprun from the numbers above; `/exp-eval` updates the idea.")
    return "\n".join(lines)


def run_report(data: dict, results: str, analysis: str) -> str:
    """RUN_REPORT of every run, single-arm or arms: the /exp-run shape (outcome, results, key finding, next
    steps) with the page's own Results and Analysis blocks, so the report and the page say the same — the
    intervals the verdict rests on included."""
    crashed = crash_text(data.get("crash"))
    outcome = data["outcome"] + (f" — {crashed}" if crashed else "")
    lines = [f"# Run Report: {data['title']}", "", f"## Outcome: {outcome}", "", "## Results", results]
    lines += ["", "## Analysis", analysis]
    if data.get("sanity_skipped"):
        lines += ["", "Deployed with --skip-sanity: no sanity run checked this code before it ran."]
    if data.get("task_logs"):
        lines += ["", f"Task logs (combined into {data.get('log_file', 'run_log')}): " + ", ".join(data["task_logs"])]
    if str(data.get("analysis_llm", "")).startswith("analysis_llm:"):
        lines += ["", f"No LLM note in the Analysis: {data['analysis_llm']}"]
    lines += ["", "## Key Finding", data["key_result"], "", "## Next Steps", *next_steps(data)]
    lines += ["", f"Page: {data['page']}"]
    return "\n".join(lines) + "\n"


def next_steps(data: dict) -> list[str]:
    """What to do next, for the situation the run ended in: a crash that cost everything, one that cost some,
    and the outcome (more seeds only where more seeds would decide it)."""
    slug, crash, counted = data["slug"], data.get("crash"), int(data.get("counted", 0))
    steps = []
    if crash and not counted:
        steps.append(
            f"- The run crashed before any result counted: {crash['suggestion']}; then `exprun retry {slug}` "
            f"(planned again, this attempt kept aside), approve the fix and `{snakemake_command(f'deploy_{slug}')}`"
        )
    elif crash:
        steps.append(
            f"- The run crashed: read the log ({crash['suggestion']}); the verdict rests on the "
            f"{counted} result(s) that counted"
        )
    elif not counted:
        steps.append(f"- No result counted: read the log ({data.get('log_file', 'run_log')}) and the Results' reasons")
    steps.append(f"- Run `/exp-eval {slug}` to update the linked idea in wiki")
    if data["outcome"] == "succeeded":
        steps.append("- Proceed to the next experiment in the plan")
    elif data["outcome"] == "failed":
        steps.append("- Analyze the failure, consider an /exp-design revision")
    elif counted and any(NO_BASELINE in reason for reason in data.get("reasons", [])):
        steps.append(
            "- Nothing to compare with: run the baseline beside the method (its numbers in each seed file's "
            "`baseline_metrics`, or a baseline arm) or give its published numbers as `baseline_results` in "
            "config.yaml, then re-run as a new experiment"
        )
    elif counted and any(word in reason for reason in data.get("reasons", []) for word in MORE_SEEDS_WOULD_TELL):
        steps.append("- Add seeds to narrow the intervals, then re-run as a new experiment")
    elif counted:
        steps.append("- Nothing here decides the hypothesis (see the Analysis); `/exp-eval` weighs the numbers")
    return steps
