"""Collect of a multi-arm experiment: per-arm numbers with their intervals, the paired differences, the
ablation classes, the sweep tables, the outcome, and the page's Results / Analysis / key result.

Outcome rules (every experiment: a single-arm one is a control and a baseline arm, see results.py):
- inconclusive when an arm that is compared has fewer than 2 counted seeds in common with the control;
- the method against baselines (arms of role `baseline`): every success criterion is checked (none given:
  `{metric: <primary>, min_delta: 0}`) — a Δ criterion against each baseline, a threshold one once, by the
  one rule of arm_criteria (the whole 1 − α interval on the success side: holds; wholly on the failure
  side: fails; straddling: wide). A criterion's metric is `metric` (default the primary), its better side
  `direction` (default from `higher_is_better`, else higher); Δ = control − baseline paired by seed, and
  what it must clear is the larger of `min_delta` and `min_relative` × |the baseline's mean| (neither: 0,
  strictly); a threshold criterion is judged by the control's interval. A check that cannot be made (no
  value, fewer than 2 paired seeds, a field that is not a number, `significance` outside (0, 1),
  `min_relative` against a baseline mean of 0) is *unknown*. Failed when any check fails; succeeded when
  every check holds; inconclusive otherwise;
- ablations: each ablation arm may say which class the hypothesis expects (`expect:`, from the page's
  "- Ablation: without X (expect essential)"); a factor's class is confident when both ends of the interval
  of Δ fall in the same class; succeeded when every expectation holds confidently, failed when a confident
  class contradicts one, inconclusive when an interval crosses a class boundary — and inconclusive when no
  arm states an expectation (the classification table is then the result);
- a sweep only: inconclusive — per swept parameter it reports the best value with its interval and the
  sensitivity (how far the mean moves across the values); deciding what that means is /exp-eval's.
Success criteria decide only runs with baseline arms; ablation and sweep runs are judged as above.

A sweep arm's parameter is the one setting its overrides change (nested overrides read as a dotted path,
shown by their last name); arms changing the same settings make one table (a grid point of several
settings is one row of a table named "a × b"), an arm changing none is a row of a "setting" table.
"""

from __future__ import annotations

from pathlib import Path

from exprun.core.numbers import finite
from exprun.experiment.arms import Arm, control
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.verdict import arm_stats
from exprun.verdict.arm_criteria import criteria_checks, outcome_of, pct
from exprun.verdict.arm_summary import ArmsSummary
from exprun.verdict.arm_sweeps import best_line, show_value, sweep_tables
from exprun.verdict.results import CountRules, read_seed_files
from exprun.verdict.words import EXCESSIVE_VARIANCE, TOO_FEW


def read_metrics(
    results_dir: Path,
    arms: list[Arm],
    seeds: list,
    rules: CountRules,
    primary: str,
    raw: dict[str, bytes] | None = None,
):
    """Each arm's counted seed files (results/<slug>/<arm>/seed_<N>.json) → metric → arm → seed → value, and
    what was not counted. A seed counts when its primary metric is finite; its other finite metrics come along.
    `raw` (when given) receives the bytes of each counted file, by its path under results/<slug>/."""
    by_metric: dict[str, dict[str, dict[int, float]]] = {primary: {}}
    not_counted = {}
    for arm in arms:
        found = read_seed_files(Path(results_dir) / arm.name, seeds, rules, arm.name)
        counted, rejected = set(), dict(found.rejected)
        for record in found.records:
            seed, metrics = int(record["seed"]), record.get("metrics") or {}
            if not finite(metrics.get(primary)):
                rejected[seed] = f"{primary} is {metrics.get(primary)!r}"
                continue
            counted.add(seed)
            if raw is not None:
                raw[f"{arm.name}/seed_{seed}.json"] = found.raw[f"seed_{seed}.json"]
            for name, value in metrics.items():
                if finite(value):
                    by_metric.setdefault(str(name), {}).setdefault(arm.name, {})[seed] = float(value)
        not_counted[arm.name] = rejected | {
            int(s): "no result file" for s in seeds if int(s) not in counted and int(s) not in rejected
        }
    for per_arm in by_metric.values():
        for arm in arms:
            per_arm.setdefault(arm.name, {})
    return by_metric, not_counted


def read(results_dir: Path, arms: list[Arm], seeds: list, rules: CountRules, primary: str):
    """The primary metric only: arm → seed → value, and what was not counted (see read_metrics)."""
    by_metric, not_counted = read_metrics(results_dir, arms, seeds, rules, primary)
    return by_metric[primary], not_counted


def summarize(
    arms: list[Arm],
    values: dict,
    not_counted: dict,
    config: ExperimentConfig,
    essential_pct: float = 10.0,
    contributing_pct: float = 3.0,
    metric_values: dict | None = None,
) -> ArmsSummary:
    """The statistics and the outcome; `metric_values` (read_metrics) lets criteria use non-primary metrics."""
    primary = config.primary_metric
    directions = dict(config.higher_is_better)
    higher = directions.get(primary, True)
    summary = ArmsSummary(
        arms,
        primary,
        higher,
        values,
        {a.name: arm_stats.interval(list(values[a.name].values())) for a in arms},
        not_counted=not_counted,
        metric_values={**(metric_values or {}), primary: values},
        directions=directions,
        single_run=len(config.seeds) == 1,
    )
    ref = control(arms)
    for arm in arms:
        if ref is None or arm is ref:
            continue
        if arm.role == "baseline":
            summary.differences.append(arm_stats.paired(ref.name, values[ref.name], arm.name, values[arm.name]))
        else:
            diff = arm_stats.paired(arm.name, values[arm.name], ref.name, values[ref.name])
            summary.differences.append(diff)
            if arm.role == "ablation":
                summary.classes[arm.name] = arm_stats.classify(diff, higher, essential_pct, contributing_pct)
    summary.sweeps = sweep_tables(summary)
    summary.outcome, summary.reasons = decide(
        summary, [dict(c) for c in config.success_criteria], essential_pct, contributing_pct
    )
    return summary


def confident_class(d: arm_stats.Difference, higher: bool, essential_pct: float, contributing_pct: float) -> str:
    """The factor's class when both ends of the interval of Δ give the same one; "" when it straddles a boundary."""
    if d.delta.low is None or d.delta.high is None:
        return ""
    ends = {
        arm_stats.classify(
            arm_stats.Difference(
                d.arm,
                d.reference,
                d.seeds,
                arm_stats.Interval(d.delta.n, value, d.delta.std, d.delta.low, d.delta.high),
                d.reference_mean,
            ),
            higher,
            essential_pct,
            contributing_pct,
        )
        for value in (d.delta.low, d.delta.high)
    }
    return ends.pop() if len(ends) == 1 else ""


def decide(
    summary: ArmsSummary, criteria: list[dict], essential_pct: float, contributing_pct: float
) -> tuple[str, list[str]]:
    compared = [d for d in summary.differences if d.delta.n < 2 and not (summary.single_run and d.delta.n == 1)]
    if compared:
        names = ", ".join(f"{d.arm} vs {d.reference}" for d in compared)
        return "inconclusive", [f"fewer than 2 paired seeds for {names} ({TOO_FEW})"]
    if any(a.role == "baseline" for a in summary.arms):
        summary.checks = criteria_checks(summary, criteria)
        return outcome_of(summary.checks)
    ablations = [d for d in summary.differences if d.arm in summary.classes]
    if ablations:
        reasons, verdicts = [], []
        for d in ablations:
            arm = next(a for a in summary.arms if a.name == d.arm)
            sure = confident_class(d, summary.higher_is_better, essential_pct, contributing_pct)
            text = f"without {_factor(summary, d.arm)}: {summary.classes[d.arm]} ({_rel(d)} vs control, CI {_ci(d)})"
            if not sure:
                text += "; the interval crosses a class boundary"
            if arm.expect:
                text += f"; expected {' or '.join(arm.expect)}"
                verdicts.append("wide" if not sure else ("holds" if sure in arm.expect else "fails"))
            reasons.append(text)
        if not verdicts:
            return "inconclusive", reasons + [
                "no arm says which class the hypothesis expects (`expect:` on each "
                "ablation arm); the classification table is the result"
            ]
        if all(v == "holds" for v in verdicts):
            return "succeeded", reasons
        if "fails" in verdicts:
            return "failed", reasons
        return "inconclusive", reasons + [f"{EXCESSIVE_VARIANCE}: an interval of Δ crosses a class boundary"]
    found = [best_line(t, summary.primary) for t in summary.sweeps if t.best is not None]
    if found:
        return "inconclusive", found + ["a sweep's verdict is for /exp-eval"]
    return "inconclusive", ["no arm to compare with"]


# --------------------------------------------------------------------------- the page's words


def _role(summary: ArmsSummary, name: str) -> str:
    return next((a.role for a in summary.arms if a.name == name), "")


def _factor(summary: ArmsSummary, name: str) -> str:
    return next((a.factor or a.name for a in summary.arms if a.name == name), name)


def _rel(d: arm_stats.Difference) -> str:
    return "—" if d.relative is None else f"{d.relative:+.1%}"


def _ci(d: arm_stats.Difference) -> str:
    if d.delta.low is None:
        return "— (one seed)"
    return f"[{d.delta.low:+.4f}, {d.delta.high:+.4f}]" + (f"; {d.delta.wide_note}" if d.delta.wide_note else "")


def _fmt_interval(i: arm_stats.Interval) -> str:
    if i.n == 0:
        return "— | — | 0"
    ci = f"[{i.low:.4f}, {i.high:.4f}]" if i.low is not None else "—"
    return f"{i.mean:.4f} ± {i.std:.4f} | {ci} | {i.n}"


def sweep_section(s: ArmsSummary) -> list[str]:
    """Per swept parameter: value | mean ± std | 95 % CI | seeds (| Δ vs control | its CI), then the best."""
    lines = []
    with_control = control(s.arms) is not None
    for table in s.sweeps:
        head = f"| {table.parameter} | mean ± std | 95 % CI | seeds |"
        lines += [
            "",
            f"Sweep of {table.parameter} ({s.primary}):",
            "",
            head + (" Δ vs control | 95 % CI of Δ |" if with_control else ""),
            "|---|---|---|---|" + ("---|---|" if with_control else ""),
        ]
        for r in table.rows:
            line = f"| {show_value(r.value)} | {_fmt_interval(r.interval)} |"
            if with_control:
                line += (
                    " — | — |"
                    if r.delta is None or not r.delta.delta.n
                    else f" {r.delta.delta.mean:+.4f} ({_rel(r.delta)}) | {_ci(r.delta)} |"
                )
            lines.append(line)
        if table.best is not None:
            found = best_line(table, s.primary)
            lines += ["", found[0].upper() + found[1:] + "."]
    return lines


def results_section(s: ArmsSummary) -> str:
    lines = [
        f"Arms × seeds, primary metric {s.primary} ({'higher' if s.higher_is_better else 'lower'} is better); "
        f"{arm_stats.METHOD}.",
        "",
        "| Arm | Role | mean ± std | 95 % CI | seeds |",
        "|-----|------|------------|---------|-------|",
    ]
    lines += [
        f"| {a.name} | {a.role}{' (' + a.factor + ')' if a.factor and a.role == 'ablation' else ''} | "
        f"{_fmt_interval(s.intervals[a.name])} |"
        for a in s.arms
    ]
    if s.classes:
        lines += [
            "",
            "Factor classification (Δ of the arm without the factor vs the control):",
            "",
            "| Factor | Arm | Δ vs control | 95 % CI of Δ | Class |",
            "|--------|-----|--------------|--------------|-------|",
        ]
        for d in s.differences:
            if d.arm in s.classes:
                row = [_factor(s, d.arm), d.arm, f"{d.delta.mean:+.4f} ({_rel(d)})", _ci(d), s.classes[d.arm]]
                lines.append("| " + " | ".join(row) + " |")
    mains = [d for d in s.differences if _role(s, d.reference) == "baseline"]
    if mains:
        lines += ["", "| Method vs baseline | Δ | 95 % CI of Δ | seeds |", "|---|---|---|---|"]
        lines += [
            f"| {d.arm} vs {d.reference} | {d.delta.mean:+.4f} ({_rel(d)}) | {_ci(d)} | {d.delta.n} |" for d in mains
        ]
    lines += sweep_section(s)
    missing = [
        f"- {arm}: seed {seed} not counted — {why}"
        for arm, seeds in s.not_counted.items()
        for seed, why in sorted(seeds.items())
    ]
    if missing:
        lines += [""] + missing
    return "\n".join(lines)


def analysis_section(s: ArmsSummary) -> str:
    lines = [f"Outcome: **{s.outcome}**."] + [f"- {r}" for r in s.reasons]
    wide = [a.name for a in s.arms if s.intervals[a.name].wide_note]
    if wide:
        lines.append(f"- few seeds in {', '.join(wide)}: {s.intervals[wide[0]].wide_note}; add seeds to narrow it")
    lines.append("- Preliminary, written by exprun from the numbers above; `/exp-eval` updates the idea.")
    return "\n".join(lines)


VERDICT_WORDS = {"holds": "met", "fails": "not met", "wide": EXCESSIVE_VARIANCE, "unknown": "not judged"}


def _check_words(c: dict) -> str:
    """A criterion's check in a few words, with the interval it was judged by."""
    verdict = VERDICT_WORDS[c["verdict"]]
    if c["mean"] is None:
        return (
            f"criterion {c['criterion']} ({c['metric']}{' vs ' + c['reference'] if c['reference'] else ''}): {verdict}"
        )
    sign = "" if c["kind"] == "threshold" else "+"
    ci = f" {pct(c['level'])} CI [{c['ci_low']:{sign}.4f}, {c['ci_high']:{sign}.4f}]" if c["ci_low"] is not None else ""
    if c["kind"] == "threshold":
        return f"{c['metric']} mean {c['mean']:.4f}{ci} vs threshold {c['need']:g}: {verdict}"
    return f"vs {c['reference']} {c['metric']} Δ {c['mean']:+.4f}{ci}: {verdict}"


def key_result(s: ArmsSummary) -> str:
    ref = control(s.arms)
    head = ""
    if ref is not None and s.intervals[ref.name].n:
        i = s.intervals[ref.name]
        head = f"{ref.name} {s.primary} {i.mean:.4f} ± {i.std:.4f} over {i.n} seed(s)"
    parts = [head] if head else []
    if s.classes:
        parts.append("; ".join(f"without {_factor(s, a)}: {c}" for a, c in s.classes.items()))
    if s.checks:
        parts += [_check_words(c) for c in s.checks]
    else:
        parts += [
            f"vs {d.reference} Δ {d.delta.mean:+.4f} CI {_ci(d)}"
            for d in s.differences
            if _role(s, d.reference) == "baseline"
        ]
    for table in s.sweeps:
        if table.best is not None:
            i = table.best.interval
            ci = f" CI [{i.low:.4f}, {i.high:.4f}]" if i.low is not None else ""
            spread = f"{table.spread:.4f}" + (
                f" ({table.relative_spread:.1%})" if table.relative_spread is not None else ""
            )
            parts.append(
                f"best {table.parameter} = {show_value(table.best.value)} ({s.primary} {i.mean:.4f}{ci}; "
                f"moves {spread} across the values)"
            )
    return "; ".join(parts) + f"; outcome {s.outcome}."
