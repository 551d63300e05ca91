"""Statistics of arms × seeds: per arm mean ± std and a 95 % t-interval over seeds; the paired difference of
an arm and its reference (same seeds, so the same splits) with the t-interval of the differences; the
ablation classes. Pure: numbers in, numbers out (scipy's t quantiles; no hand-written tables). A criterion
with `significance: α` asks for the interval at 1 − α, hence the `level` argument.

The quantile comes from `scipy.special.stdtrit`, the function `scipy.stats.t.ppf` itself calls, imported when the
first interval is computed: `scipy.stats` takes about a second to import, and every `exprun` command that only
names a criterion (the gate's checklist, the Snakefile's steps) would pay it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from exprun.core.numbers import finite

LEVEL = 0.95
METHOD = "95 % t-interval over seeds (paired by seed for differences: arms share each seed's split)"


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    std: float
    low: float | None  # None: fewer than 2 values, no interval
    high: float | None

    @property
    def wide_note(self) -> str:
        if self.n < 2:
            return "no interval from one seed"
        return "only 2 seeds: the interval is wide" if self.n == 2 else ""

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def t_quantile(probability: float, degrees: int) -> float:
    """Student's t quantile (scipy.stats.t.ppf(probability, degrees), by the same special function)."""
    from scipy.special import stdtrit

    return float(stdtrit(degrees, probability))


def interval(values: list[float], level: float = LEVEL) -> Interval:
    """Mean, sample std and the two-sided t-interval of the mean at `level` (95 % unless asked)."""
    n = len(values)
    if n == 0:
        return Interval(0, math.nan, math.nan, None, None)
    mean = sum(values) / n
    if n < 2:
        return Interval(1, mean, 0.0, None, None)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Difference:
    """arm − reference on the seeds both have, with its interval; `relative` = mean Δ / |reference mean|."""

    arm: str
    reference: str
    seeds: list[int]
    delta: Interval
    reference_mean: float

    @property
    def relative(self) -> float | None:
        return (
            None
            if not self.reference_mean or math.isnan(self.reference_mean)
            else self.delta.mean / abs(self.reference_mean)
        )


def paired(
    arm: str, values: dict[int, float], reference: str, ref_values: dict[int, float], level: float = LEVEL
) -> Difference:
    """The paired difference over the seeds present (finite) in both arms, its interval at `level`."""
    seeds = sorted(s for s in values if s in ref_values and finite(values[s]) and finite(ref_values[s]))
    diffs = [values[s] - ref_values[s] for s in seeds]
    ref_mean = sum(ref_values[s] for s in seeds) / len(seeds) if seeds else math.nan
    return Difference(arm, reference, seeds, interval(diffs, level), ref_mean)


ESSENTIAL, CONTRIBUTING, MARGINAL, HARMFUL = "ESSENTIAL", "CONTRIBUTING", "MARGINAL", "HARMFUL"


def classify(
    difference: Difference, higher_is_better: bool, essential_pct: float = 10.0, contributing_pct: float = 3.0
) -> str:
    """What removing a factor did to the primary metric (the ablation arm minus the control):
    drops it by > essential_pct % → ESSENTIAL, by contributing_pct–essential_pct % → CONTRIBUTING, by less →
    MARGINAL; improves it (the interval of Δ excluding 0 on the better side) → HARMFUL."""
    relative = difference.relative
    if relative is None:
        return "—"
    drop_pct = -relative * 100 if higher_is_better else relative * 100
    improved = difference.delta.excludes_zero() and drop_pct < 0
    if improved:
        return HARMFUL
    if drop_pct > essential_pct:
        return ESSENTIAL
    if drop_pct >= contributing_pct:
        return CONTRIBUTING
    return MARGINAL


def interval_json(i: Interval) -> dict:
    """An interval for the JSON reports (NaN, which JSON lacks, as null)."""
    return {
        "n": i.n,
        "mean": None if math.isnan(i.mean) else i.mean,
        "std": None if math.isnan(i.std) else i.std,
        "ci_low": i.low,
        "ci_high": i.high,
    }
