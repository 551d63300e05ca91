"""Runtime estimate at deploy (and at the gate): what the sanity run measured, scaled to the planned run.

The rule, in order (docs/running.md, "The runtime estimate"):

1. measured seconds per step (sanity.json `seconds_per_step`) × planned steps of one task × tasks ÷ parallel,
   rounded up to whole rounds of `parallel` tasks (3 seeds, 2 at a time, take two rounds); each arm's steps are
   planned from its own config (a sweep over epochs runs 2 and 20 epochs, not the base's twice), and with arms
   of different lengths a round is their mean task;
2. planned steps unknown (no dataset size, no epochs/batch size, no step count in `hyperparameters`): the
   sanity run's own time per task × tasks ÷ parallel, said to be a lower bound — the sanity run is a few steps
   on a subset, so the full run takes at least that long;
3. no sanity measure at all (sanity skipped, or an old sanity.json without one): the `/exp-run` table of the
   specification, keyed by the page's `setup` (1.5 h / 8 h / 24 h).

A measure always wins over the table: two half-minute runs are never told "~24 h" and "~1.5 h" because their
pages' setup text differed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypeGuard

from exprun.core.durations import human_hours
from exprun.core.numbers import finite
from exprun.experiment.experiment_config import ExperimentConfig

# (pattern over setup text, hours) — the middle of the ranges in the /exp-run table.
RULES_OF_THUMB = (
    (
        r"\b([2-9]|[1-9][0-9])\s*[x×]\s*(gpu|a100|h100|h200|v100)|multi-?gpu|\b([7-9]|[1-9][0-9]{1,2})b\b|llama|\bllm\b",
        24.0,
        "multi-GPU or large-model (≥7B) fine-tuning (8–48 h)",
    ),
    (r"imagenet|glue|a100|medium", 8.0, "single A100 + medium dataset (4–12 h)"),
    (r".", 1.5, "single GPU + small dataset (0.5–3 h)"),
)
# hyperparameters that name one task's whole step budget (a run that stops at a step count, not epochs)
STEP_BUDGET_KEYS = ("max_steps", "total_steps", "num_steps", "train_steps", "steps", "iterations", "max_iters")


def train_size(dataset_report: dict, config: ExperimentConfig) -> int | None:
    """Training examples: dataset rows minus the held-out share."""
    rows = None
    if dataset_report.get("shape"):
        rows = int(dataset_report["shape"][0])
    elif dataset_report.get("rows"):
        rows = int(dataset_report["rows"])
    elif dataset_report.get("arrays", {}).get("X"):
        rows = int(dataset_report["arrays"]["X"][0])
    if rows is None:
        return None
    test_size = float(config.dataset.get("test_size") or 0.2)
    return max(1, int(rows * (1 - test_size)))


def planned_steps(config: ExperimentConfig, n_train: int | None) -> int | None:
    """Steps of one task's full run: epochs × batches per epoch, or a step budget the hyperparameters name —
    the smaller when both are there (a run stops at whichever comes first)."""
    hp = config.hyperparameters
    found = [int(hp[key]) for key in STEP_BUDGET_KEYS if _positive(hp.get(key))]
    if n_train is not None and _positive(hp.get("epochs")) and _positive(hp.get("batch_size")):
        found.append(int(hp["epochs"]) * math.ceil(n_train / int(hp["batch_size"])))
    return min(found) if found else None


def arm_steps(config: ExperimentConfig, dataset_report: dict) -> list[int] | None:
    """Planned steps of one task of each arm, with the arm's overrides applied (a sweep over epochs or batch size
    plans other step counts than the base config); None when any arm's is unknown."""
    found = []
    for arm in config.arms:
        arm_config = config.with_overrides(arm.overrides) if arm.overrides else config
        steps = planned_steps(arm_config, train_size(dataset_report, arm_config))
        if steps is None:
            return None
        found.append(steps)
    return found


def _steps_text(steps: list[int]) -> str:
    """ "460 steps", or "46–460 steps by arm (506 per seed)" when the arms plan different lengths."""
    if len(set(steps)) == 1:
        return f"{steps[0]} steps"
    return f"{min(steps)}–{max(steps)} steps by arm ({sum(steps)} per seed)"


def seconds_per_task(sanity: dict, config: ExperimentConfig) -> float | None:
    """The sanity run's time for one task: its program's own wall time, else the run's wall time over the
    tasks it ran (every arm of the first seed)."""
    if _positive(sanity.get("train_wall_time_s")):
        return float(sanity["train_wall_time_s"])
    if _positive(sanity.get("wall_time_s")):
        return float(sanity["wall_time_s"]) / max(len(config.arms), 1)
    return None


@dataclass(frozen=True)
class Estimate:
    """Hours for the whole run (not rounded: a 90-second run is 0.025 h), how they were obtained, and whether
    they are only a lower bound (rule 2)."""

    hours: float
    basis: str
    lower_bound: bool = False

    @property
    def text(self) -> str:
        return estimate_text(self.hours, self.lower_bound)


def estimate_text(hours: float, lower_bound: bool = False) -> str:
    """ "~12 min", or "at least 45 s" for a lower bound: how every report says an estimate."""
    return f"{'at least ' if lower_bound else '~'}{human_hours(hours)}"


def estimate_run(
    sanity: dict, dataset_report: dict, config: ExperimentConfig, setup: dict, parallel: int = 1
) -> Estimate:
    """The estimate for every task (arm × seed) of the run, `parallel` at a time (the module's rule)."""
    seeds, count = len(config.seeds), len(config.arms)
    rounds = math.ceil(seeds * count / max(parallel, 1))
    what = f"{seeds} seeds" if count == 1 else f"{count} arms × {seeds} seeds"
    at_once = f" ÷ {parallel} at a time" if parallel > 1 else ""
    steps = arm_steps(config, dataset_report)
    per_step = sanity.get("seconds_per_step")
    if steps and _positive(per_step):
        # the mean task × whole rounds: exact for one at a time, and for arms of one length at any parallelism
        hours = per_step * sum(steps) / count * rounds / 3600
        return Estimate(hours, f"sanity throughput {per_step:.4g} s/step × {_steps_text(steps)} × {what}{at_once}")
    per_task = seconds_per_task(sanity, config)
    if per_task:
        hours = per_task * rounds / 3600
        return Estimate(
            hours,
            f"the sanity run's {per_task:.3g} s per task × {what}{at_once}; "
            + (
                "the sanity run reported no steps to time"
                if steps
                else "planned steps unknown (no dataset size with epochs and batch_size, nor a step count, "
                "in config.yaml)"
            )
            + ", so the full run takes longer",
            lower_bound=True,
        )
    text = " ".join(str(v) for v in (setup or {}).values()).lower()
    for pattern, hours, label in RULES_OF_THUMB:
        if re.search(pattern, text):
            return Estimate(hours, f"rule of thumb (no sanity measure): {label}")
    return Estimate(1.5, "rule of thumb (no sanity measure)")


def _positive(value: object) -> TypeGuard[int | float]:
    return finite(value) and value > 0
