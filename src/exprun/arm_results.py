"""Collect of a multi-arm experiment: per-arm numbers with their intervals, the paired differences, the
ablation classes, the outcome, and the page's Results / Analysis / key result.

Outcome rules (multi-arm; the single-arm ones are in results.py):
- inconclusive when an arm that is compared has fewer than 2 counted seeds;
- the method against baselines (arms of role `baseline`): Δ = control − baseline, paired by seed, judged by
  the first success criterion (min_delta, default 0; `significance` asks the interval of Δ to exclude 0):
  holds when the mean Δ meets it (and, when asked, the interval excludes 0 on the right side); the run
  is inconclusive when the interval spans both 0 and the criterion ("excessive variance"); succeeded when it
  holds against every baseline, failed when it fails against one;
- ablations: each ablation arm may say which class the hypothesis expects (`expect:`, from the page's
  "- Ablation: without X (expect essential)"); a factor's class is confident when both ends of the interval
  of Δ fall in the same class; succeeded when every expectation holds confidently, failed when a confident
  class contradicts one, inconclusive when an interval crosses a class boundary — and inconclusive when no
  arm states an expectation (the classification table is then the result);
- a sweep only: inconclusive — it reports the best setting with its interval and how much the metric moves;
  deciding what that means for the idea is /exp-eval's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import arm_stats
from .arms import Arm, control
from .results import read_seed_files


@dataclass
class ArmsSummary:
    arms: list[Arm]
    primary: str
    higher_is_better: bool
    values: dict[str, dict[int, float]]          # arm -> seed -> primary metric
    intervals: dict[str, arm_stats.Interval]
    differences: list[arm_stats.Difference] = field(default_factory=list)
    classes: dict[str, str] = field(default_factory=dict)
    not_counted: dict[str, dict[int, str]] = field(default_factory=dict)
    outcome: str = "inconclusive"
    reasons: list[str] = field(default_factory=list)


def read(results_dir: Path, arms: list[Arm], seeds: list, run_id: str, approved_hash: str, primary: str):
    """Each arm's counted seed files (results/<slug>/<arm>/seed_<N>.json) → values and what was not counted."""
    values, not_counted = {}, {}
    for arm in arms:
        found = read_seed_files(Path(results_dir) / arm.name, seeds, run_id, approved_hash)
        counted, rejected = {}, dict(found.rejected)
        for record in found.records:
            value = (record.get("metrics") or {}).get(primary)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                counted[int(record["seed"])] = float(value)
            else:
                rejected[int(record["seed"])] = f"{primary} is {value!r}"
        values[arm.name] = counted
        not_counted[arm.name] = rejected | {int(s): "no result file" for s in seeds
                                            if int(s) not in counted and int(s) not in rejected}
    return values, not_counted


def summarize(arms: list[Arm], values: dict, not_counted: dict, config: dict, essential_pct: float = 10.0,
              contributing_pct: float = 3.0) -> ArmsSummary:
    primary = config.get("primary_metric") or (config.get("metrics") or ["metric"])[0]
    higher = bool((config.get("higher_is_better") or {}).get(primary, True))
    summary = ArmsSummary(arms, primary, higher, values, {a.name: arm_stats.interval(list(values[a.name].values())) for a in arms},
                          not_counted=not_counted)
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
    summary.outcome, summary.reasons = decide(summary, config.get("success_criteria") or [], essential_pct,
                                              contributing_pct)
    return summary


def confident_class(d: arm_stats.Difference, higher: bool, essential_pct: float, contributing_pct: float) -> str:
    """The factor's class when both ends of the interval of Δ give the same one; "" when it straddles a boundary."""
    if d.delta.low is None:
        return ""
    ends = {arm_stats.classify(arm_stats.Difference(d.arm, d.reference, d.seeds, arm_stats.Interval(
        d.delta.n, value, d.delta.std, d.delta.low, d.delta.high), d.reference_mean), higher, essential_pct,
        contributing_pct) for value in (d.delta.low, d.delta.high)}
    return ends.pop() if len(ends) == 1 else ""


def decide(summary: ArmsSummary, criteria: list[dict], essential_pct: float,
           contributing_pct: float) -> tuple[str, list[str]]:
    sign = 1 if summary.higher_is_better else -1
    compared = [d for d in summary.differences if d.delta.n < 2]
    if compared:
        names = ", ".join(f"{d.arm} vs {d.reference}" for d in compared)
        return "inconclusive", [f"fewer than 2 paired seeds for {names} (need at least 2)"]
    baselines = [d for d in summary.differences if _role(summary, d.reference) == "baseline"]
    if baselines:
        first = criteria[0] if criteria else {}
        need = float(first.get("min_delta", 0.0))
        verdicts, reasons = [], []
        for d in baselines:
            verdict, text = _judge(d, sign, need, "significance" in first)
            verdicts.append(verdict)
            reasons.append(text)
        if all(v == "holds" for v in verdicts):
            return "succeeded", reasons
        if "fails" in verdicts:
            return "failed", reasons
        return "inconclusive", reasons + ["excessive variance: an interval of Δ spans both 0 and the criterion"]
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
            return "inconclusive", reasons + ["no arm says which class the hypothesis expects (`expect:` on each "
                                              "ablation arm); the classification table is the result"]
        if all(v == "holds" for v in verdicts):
            return "succeeded", reasons
        if "fails" in verdicts:
            return "failed", reasons
        return "inconclusive", reasons + ["excessive variance: an interval of Δ crosses a class boundary"]
    sweep = best_of(summary)
    if sweep:
        return "inconclusive", [f"best setting {sweep}; a sweep's verdict is for /exp-eval"]
    return "inconclusive", ["no arm to compare with"]


def _judge(d: arm_stats.Difference, sign: int, need: float, significance: bool) -> tuple[str, str]:
    mean, low, high = sign * d.delta.mean, d.delta.low, d.delta.high
    lo, hi = sorted((sign * low, sign * high))
    holds = mean >= need if need else mean > 0
    text = f"{d.arm} vs {d.reference}: Δ {d.delta.mean:+.4f}, CI [{low:+.4f}, {high:+.4f}] (needs {'+' if sign > 0 else '-'}{need:g})"
    if significance and not lo > 0:
        return ("fails" if hi < 0 else "wide"), text + ": not significant"
    if lo < 0 < hi and (lo < need < hi or need == 0):
        return "wide", text + ": the interval spans 0 and the criterion"
    return ("holds" if holds else "fails"), text + (": yes" if holds else ": no")


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


def best_of(summary: ArmsSummary) -> str:
    sweep = [a for a in summary.arms if a.role == "sweep" and summary.intervals[a.name].n]
    if not sweep:
        return ""
    pick = max if summary.higher_is_better else min
    best = pick(sweep, key=lambda a: summary.intervals[a.name].mean)
    i = summary.intervals[best.name]
    ci = f"CI [{i.low:.4f}, {i.high:.4f}]" if i.low is not None else "no CI"
    spread = [summary.intervals[a.name].mean for a in sweep]
    return (f"{best.name}: {summary.primary} {i.mean:.4f} ({ci}); across the sweep the mean moves by "
            f"{max(spread) - min(spread):.4f}")


# --------------------------------------------------------------------------- the page's words


def _fmt_interval(i: arm_stats.Interval) -> str:
    if i.n == 0:
        return "— | — | 0"
    ci = f"[{i.low:.4f}, {i.high:.4f}]" if i.low is not None else "—"
    return f"{i.mean:.4f} ± {i.std:.4f} | {ci} | {i.n}"


def results_section(s: ArmsSummary) -> str:
    lines = [f"Arms × seeds, primary metric {s.primary} ({'higher' if s.higher_is_better else 'lower'} is better); "
             f"{arm_stats.METHOD}.", "",
             "| Arm | Role | mean ± std | 95 % CI | seeds |", "|-----|------|------------|---------|-------|"]
    lines += [f"| {a.name} | {a.role}{' (' + a.factor + ')' if a.factor and a.role == 'ablation' else ''} | "
              f"{_fmt_interval(s.intervals[a.name])} |" for a in s.arms]
    if s.classes:
        lines += ["", "Factor classification (Δ of the arm without the factor vs the control):", "",
                  "| Factor | Arm | Δ vs control | 95 % CI of Δ | Class |", "|--------|-----|--------------|--------------|-------|"]
        for d in s.differences:
            if d.arm in s.classes:
                lines.append(f"| {_factor(s, d.arm)} | {d.arm} | {d.delta.mean:+.4f} ({_rel(d)}) | {_ci(d)} | {s.classes[d.arm]} |")
    mains = [d for d in s.differences if _role(s, d.reference) == "baseline"]
    if mains:
        lines += ["", "| Method vs baseline | Δ | 95 % CI of Δ | seeds |", "|---|---|---|---|"]
        lines += [f"| {d.arm} vs {d.reference} | {d.delta.mean:+.4f} ({_rel(d)}) | {_ci(d)} | {d.delta.n} |" for d in mains]
    sweeps = [d for d in s.differences if _role(s, d.arm) == "sweep"]
    if sweeps:
        lines += ["", "| Setting | Δ vs control | 95 % CI of Δ |", "|---|---|---|"]
        lines += [f"| {d.arm} | {d.delta.mean:+.4f} ({_rel(d)}) | {_ci(d)} |" for d in sweeps]
    best = best_of(s)
    if best:
        lines += ["", f"Best setting: {best}."]
    missing = [f"- {arm}: seed {seed} not counted — {why}" for arm, seeds in s.not_counted.items() for seed, why in sorted(seeds.items())]
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


def key_result(s: ArmsSummary) -> str:
    ref = control(s.arms)
    head = ""
    if ref is not None and s.intervals[ref.name].n:
        i = s.intervals[ref.name]
        head = f"{ref.name} {s.primary} {i.mean:.4f} ± {i.std:.4f} over {i.n} seed(s)"
    parts = [head] if head else []
    if s.classes:
        parts.append("; ".join(f"without {_factor(s, a)}: {c}" for a, c in s.classes.items()))
    for d in s.differences:
        if _role(s, d.reference) == "baseline":
            parts.append(f"vs {d.reference} Δ {d.delta.mean:+.4f} CI {_ci(d)}")
    best = best_of(s)
    if best and not s.classes:
        parts.append(f"best {best.split(':')[0]}")
    return "; ".join(parts) + f"; outcome {s.outcome}."
