"""The success criteria of a run with baseline arms, each checked against each baseline (or, a threshold, once
against the control) at its own interval level; the rules are arm_results' docstring's."""

from __future__ import annotations

import math

from exprun.experiment.arms import control
from exprun.verdict import arm_stats
from exprun.verdict.arm_stats import finite
from exprun.verdict.arm_summary import ArmsSummary


def criteria_checks(summary: ArmsSummary, criteria: list[dict]) -> list[dict]:
    """Every criterion's check (a Δ criterion once per baseline arm), each with its verdict and its words."""
    ref = control(summary.arms)
    baselines = [a.name for a in summary.arms if a.role == "baseline"]
    checks = []
    for index, criterion in enumerate(criteria or [{"metric": summary.primary, "min_delta": 0.0}]):
        metric = str(criterion.get("metric") or summary.primary)
        base = {
            "criterion": index + 1,
            "metric": metric,
            "arm": ref.name if ref else "",
            "reference": "",
            "kind": "threshold" if "threshold" in criterion else "delta",
            "verdict": "unknown",
            "n": 0,
            "level": None,
            "need": None,
            "mean": None,
            "ci_low": None,
            "ci_high": None,
            "relative": None,
        }
        try:
            fields = _fields(criterion)
        except ValueError as exc:
            checks.append({**base, "text": f"criterion {index + 1} ({metric}): {exc}; not judged"})
            continue
        higher = _higher(criterion, metric, summary)
        if ref is None:
            checks.append({**base, "text": f"criterion {index + 1} ({metric}): no control arm"})
        elif "threshold" in criterion:
            checks.append({**base, **_threshold_check(summary, ref.name, metric, higher, fields)})
        else:
            checks += [{**base, **_delta_check(summary, ref.name, name, metric, higher, fields)} for name in baselines]
    return checks


def _fields(criterion: dict) -> dict:
    """The criterion's numbers; ValueError naming the field that is not one."""
    found = {}
    for key in ("min_delta", "min_relative", "threshold", "significance"):
        if key in criterion:
            value = criterion[key]
            if not finite(value) and not (isinstance(value, str) and _parses(value)):
                raise ValueError(f"{key} {value!r} is not a number")
            found[key] = float(value)
    alpha = found.get("significance")
    if alpha is not None and not 0 < alpha < 1:
        raise ValueError(f"significance {criterion['significance']!r} must lie between 0 and 1")
    found["level"] = 1 - alpha if alpha is not None else arm_stats.LEVEL
    return found


def _parses(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _higher(criterion: dict, metric: str, summary: ArmsSummary) -> bool:
    given = str(criterion.get("direction") or "").lower()
    return given == "higher" if given in ("higher", "lower") else summary.directions.get(metric, True)


def pct(level: float) -> str:
    return f"{level * 100:g} %"


def _threshold_check(summary: ArmsSummary, ref: str, metric: str, higher: bool, fields: dict) -> dict:
    values = list(summary.metric_values.get(metric, {}).get(ref, {}).values())
    i = arm_stats.interval(values, fields["level"])
    threshold, level = fields["threshold"], fields["level"]
    out = {"n": i.n, "level": level, "need": threshold, "ci_low": i.low, "ci_high": i.high}
    if not i.n:
        return {**out, "text": f"{ref} {metric}: no value to compare with the threshold {threshold:g}"}
    ok = (i.mean - threshold) * (1 if higher else -1) >= 0
    ci = f"{pct(level)} CI [{i.low:.4f}, {i.high:.4f}]" if i.low is not None else "no CI from one seed"
    text = (
        f"{ref} {metric} mean {i.mean:.4f} ({ci}, {i.n} seeds) {'≥' if higher else '≤'} {threshold:g}: "
        f"{'yes' if ok else 'no'}"
    )
    return {**out, "mean": i.mean, "verdict": "holds" if ok else "fails", "text": text}


def _delta_check(summary: ArmsSummary, ref: str, baseline: str, metric: str, higher: bool, fields: dict) -> dict:
    """Δ = control − baseline on the criterion's metric, paired by seed, its interval at the criterion's level."""
    per_arm = summary.metric_values.get(metric, {})
    level, sign, significance = fields["level"], 1 if higher else -1, "significance" in fields
    d = arm_stats.paired(ref, per_arm.get(ref, {}), baseline, per_arm.get(baseline, {}), level)
    head = f"{ref} vs {baseline}: "
    out = {"reference": baseline, "n": d.delta.n, "level": level, "ci_low": d.delta.low, "ci_high": d.delta.high}
    if d.delta.n < 2:
        return {**out, "text": head + f"{metric} in {d.delta.n} paired seed(s) (need at least 2); not judged"}
    needs = [fields["min_delta"]] if "min_delta" in fields else []
    if "min_relative" in fields:
        if d.relative is None:
            return {**out, "text": head + f"{metric}: the baseline's mean is 0, no relative Δ; not judged"}
        needs.append(fields["min_relative"] * abs(d.reference_mean))
    need = max(needs) if needs else 0.0
    need = max(need, 0.0) if significance else need
    mean = sign * d.delta.mean
    assert d.delta.low is not None and d.delta.high is not None  # n >= 2 above: the interval exists
    low, high = sorted((sign * d.delta.low, sign * d.delta.high))
    relative = f" ({d.relative:+.2%})" if d.relative is not None else ""
    asks = ("Δ > 0" if higher else "Δ < 0") if need == 0 else f"Δ {'≥' if higher else '≤'} {sign * need:+.4f}"
    if "min_relative" in fields:
        asks += f", {fields['min_relative']:.2%} of {baseline}'s mean {d.reference_mean:.4f}"
    if significance:
        asks += f"; the {pct(level)} CI {'above' if higher else 'below'} 0"
    text = (
        head + f"Δ {d.delta.mean:+.4f} {metric}{relative}, {pct(level)} CI [{d.delta.low:+.4f}, "
        f"{d.delta.high:+.4f}] over {d.delta.n} seeds (needs {asks})"
    )
    out = {**out, "need": sign * need, "mean": d.delta.mean, "relative": d.relative}
    if low <= 0 <= high and low <= need <= high:
        return {**out, "verdict": "wide", "text": text + ": the interval spans 0 and the criterion"}
    if significance and not low > 0:
        return {**out, "verdict": "fails", "text": text + ": no, the interval is not wholly on the better side of 0"}
    ok = mean > 0 if need == 0 else mean >= need
    return {**out, "verdict": "holds" if ok else "fails", "text": text + (": yes" if ok else ": no")}
