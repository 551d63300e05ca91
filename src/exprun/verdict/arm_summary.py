"""What a multi-arm collect knows once the seed files are read: each arm's numbers and intervals, the
paired differences, the criteria checks and the sweep tables. Its own module so that the readers
(arm_results) and the judges (arm_criteria, arm_sweeps) share it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

from exprun.experiment.arms import Arm
from exprun.verdict import arm_stats


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class SweepRow:
    arm: str
    value: object  # the parameter's value (a tuple for a grid point of several settings)
    interval: arm_stats.Interval
    delta: arm_stats.Difference | None  # arm − control, paired by seed; None without a control


@dataclass(frozen=True)
class SweepTable:
    parameter: str
    rows: list[SweepRow]
    best: SweepRow | None  # the best mean among rows with a counted seed
    spread: float | None  # max − min of those rows' means: how sensitive the metric is to the parameter

    @property
    def relative_spread(self) -> float | None:
        if self.best is None or self.spread is None or not self.best.interval.mean:
            return None
        return self.spread / abs(self.best.interval.mean)

    @property
    def numeric(self) -> bool:
        return all(is_number(r.value) for r in self.rows)


@dataclass
class ArmsSummary:
    arms: list[Arm]
    primary: str
    higher_is_better: bool
    values: dict[str, dict[int, float]]  # arm -> seed -> primary metric
    intervals: dict[str, arm_stats.Interval]
    differences: list[arm_stats.Difference] = field(default_factory=list)
    classes: dict[str, str] = field(default_factory=dict)
    not_counted: dict[str, dict[int, str]] = field(default_factory=dict)
    outcome: str = "inconclusive"
    reasons: list[str] = field(default_factory=list)
    metric_values: dict[str, dict[str, dict[int, float]]] = field(
        default_factory=dict
    )  # metric -> arm -> seed -> value
    directions: dict[str, bool] = field(default_factory=dict)  # config's higher_is_better
    checks: list[dict] = field(default_factory=list)  # each criterion's check, for the JSON report
    sweeps: list[SweepTable] = field(default_factory=list)
    # one run per arm by design (config.yaml seeds: one, "a single deterministic run"): a criterion is judged on
    # that run's value, there being no interval to judge it by; never when seeds were lost to a crash
    single_run: bool = False
