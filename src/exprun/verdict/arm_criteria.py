"""The success criteria, each checked against each baseline (or, a threshold, once against the control) at
its own interval level, by one rule for every kind (Δ, relative Δ, threshold): the criterion holds when the
whole 1 − α interval lies on its success side, fails when the whole interval lies on its failure side, and
cannot tell ("wide") when it straddles. α is the criterion's `significance` (0.05 when not given).

A single-arm experiment is judged here too: results.py makes it a control arm and a baseline arm (the
baseline's numbers run beside it, or config.yaml's `baseline_results`)."""

from __future__ import annotations

import math

from exprun.core.numbers import finite
from exprun.experiment.arms import control
from exprun.verdict import arm_stats
from exprun.verdict.arm_summary import ArmsSummary
from exprun.verdict.words import EXCESSIVE_VARIANCE, NO_BASELINE, TOO_FEW


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


def _side(low: float, high: float, need: float, strict: bool) -> str:
    """The one outcome rule, on the better side's scale (higher is better): "holds" when the whole interval
    lies on the success side of `need`, "fails" when it lies wholly on the failure side, "wide" when it
    straddles. `strict`: the success side excludes `need` itself (Δ > 0 when nothing more is asked)."""
    if low > need or (low == need and not strict):
        return "holds"
    if high < need or (high == need and strict):
        return "fails"
    return "wide"


VERDICT_ENDINGS = {
    "holds": ": yes, the whole interval is on the success side",
    "fails": ": no, the whole interval is on the failure side",
    "wide": ": the interval straddles what the criterion asks (excessive variance)",
}


ONE_RUN_ENDINGS = {
    "holds": ": yes (one run by design: judged on its value, without an interval)",
    "fails": ": no (one run by design: judged on its value, without an interval)",
    "wide": ": exactly on the line",
}


def _ending(verdict: str, interval: arm_stats.Interval) -> str:
    note = interval.wide_note
    return VERDICT_ENDINGS[verdict] + (f"; {note}" if verdict == "wide" and note else "")


def _threshold_check(summary: ArmsSummary, ref: str, metric: str, higher: bool, fields: dict) -> dict:
    """The control's mean against the threshold, judged by the control's interval at the criterion's level."""
    values = list(summary.metric_values.get(metric, {}).get(ref, {}).values())
    i = arm_stats.interval(values, fields["level"])
    threshold, level = fields["threshold"], fields["level"]
    out = {"n": i.n, "level": level, "need": threshold, "ci_low": i.low, "ci_high": i.high}
    if not i.n:
        return {**out, "text": f"{ref} {metric}: no value to compare with the threshold {threshold:g}"}
    sign = 1 if higher else -1
    needs = f"(needs {'≥' if higher else '≤'} {threshold:g})"
    if i.low is None or i.high is None:
        if not summary.single_run:
            return {**out, "mean": i.mean, "text": f"{ref} {metric}: one seed gives no interval; not judged"}
        verdict = _side(sign * i.mean, sign * i.mean, sign * threshold, strict=False)
        text = f"{ref} {metric} {i.mean:.4f} in its one run by design {needs}"
        return {**out, "mean": i.mean, "verdict": verdict, "text": text + ONE_RUN_ENDINGS[verdict]}
    low, high = sorted((sign * i.low, sign * i.high))
    verdict = _side(low, high, sign * threshold, strict=False)
    text = f"{ref} {metric} mean {i.mean:.4f}, {pct(level)} CI [{i.low:.4f}, {i.high:.4f}] over {i.n} seeds {needs}"
    return {**out, "mean": i.mean, "verdict": verdict, "text": text + _ending(verdict, i)}


def _delta_check(summary: ArmsSummary, ref: str, baseline: str, metric: str, higher: bool, fields: dict) -> dict:
    """Δ = control − baseline on the criterion's metric, paired by seed, its interval at the criterion's level."""
    per_arm = summary.metric_values.get(metric, {})
    level, sign = fields["level"], 1 if higher else -1
    d = arm_stats.paired(ref, per_arm.get(ref, {}), baseline, per_arm.get(baseline, {}), level)
    head = f"{ref} vs {baseline}: "
    out = {"reference": baseline, "n": d.delta.n, "level": level, "ci_low": d.delta.low, "ci_high": d.delta.high}
    if not per_arm.get(ref):
        return {**out, "text": head + f"no value of {metric} in {ref}'s seed files; not judged"}
    if not per_arm.get(baseline):
        return {**out, "text": head + f"{NO_BASELINE} for {metric} (not run beside it, no baseline_results)"}
    one_run = summary.single_run and d.delta.n == 1
    if d.delta.n < 2 and not one_run:
        return {**out, "text": head + f"{metric} in {d.delta.n} paired seed(s) ({TOO_FEW}); not judged"}
    needs = [fields["min_delta"]] if "min_delta" in fields else []
    if "min_relative" in fields:
        if d.relative is None:
            return {**out, "text": head + f"{metric}: the baseline's mean is 0, no relative Δ; not judged"}
        needs.append(fields["min_relative"] * abs(d.reference_mean))
    need = max(needs) if needs else 0.0
    if one_run:
        low = high = sign * d.delta.mean
    else:
        assert d.delta.low is not None and d.delta.high is not None  # n >= 2 above: the interval exists
        low, high = sorted((sign * d.delta.low, sign * d.delta.high))
    relative = f" ({d.relative:+.2%})" if d.relative is not None else ""
    asks = ("Δ > 0" if higher else "Δ < 0") if need == 0 else f"Δ {'≥' if higher else '≤'} {sign * need:+.4f}"
    if "min_relative" in fields:
        asks += f", {fields['min_relative']:.2%} of {baseline}'s mean {d.reference_mean:.4f}"
    verdict = _side(low, high, need, strict=need == 0)
    out = {**out, "need": sign * need, "mean": d.delta.mean, "relative": d.relative}
    if one_run:
        text = head + f"Δ {d.delta.mean:+.4f} {metric}{relative} in its one run by design (needs {asks})"
        return {**out, "verdict": verdict, "text": text + ONE_RUN_ENDINGS[verdict]}
    text = (
        head + f"Δ {d.delta.mean:+.4f} {metric}{relative}, {pct(level)} CI [{d.delta.low:+.4f}, "
        f"{d.delta.high:+.4f}] over {d.delta.n} seeds (needs {asks})"
    )
    return {**out, "verdict": verdict, "text": text + _ending(verdict, d.delta)}


def outcome_of(checks: list[dict]) -> tuple[str, list[str]]:
    """Every experiment's outcome from its criteria checks: failed when one fails, succeeded when all hold,
    inconclusive otherwise (an interval that straddles, or a check that could not be made)."""
    verdicts = [c["verdict"] for c in checks]
    reasons = [c["text"] for c in checks]
    if "fails" in verdicts:
        return "failed", reasons
    if verdicts and all(v == "holds" for v in verdicts):
        return "succeeded", reasons
    if "wide" in verdicts:
        reasons.append(f"{EXCESSIVE_VARIANCE}: an interval straddles what a criterion asks; more seeds would tell")
    return "inconclusive", reasons
