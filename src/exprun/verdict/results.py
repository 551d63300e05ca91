"""Seed files → one table → mean ± std per metric, Δ vs baseline, and the outcome. Pure.

The table is a list of rows (seed, metric, value, baseline), not a pandas DataFrame: a collect reads, averages
and prints a few thousand numbers, and importing pandas for that took longer than the rest of the step.

The outcome is the one verdict engine's (arm_criteria): a single-arm experiment is judged as a control arm
(its seeds) and a baseline arm (the baseline's numbers each seed file carries, else `baseline_results`);
inconclusive when fewer than 2 seeds were counted.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from exprun.core.numbers import finite
from exprun.experiment.arms import Arm
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.verdict.arm_criteria import criteria_checks, outcome_of
from exprun.verdict.arm_summary import ArmsSummary
from exprun.verdict.words import TOO_FEW

SEED_FILE = re.compile(r"^seed_(-?\d+)\.json$")


@dataclass
class MetricSummary:
    metric: str
    mean: float
    std: float
    n: int
    baseline: float | None
    higher_is_better: bool = True

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.mean - self.baseline

    @property
    def relative_delta(self) -> float | None:
        if self.baseline in (None, 0) or self.delta is None:
            return None
        return self.delta / abs(self.baseline)


@dataclass(frozen=True)
class SeedValue:
    """One cell of the per-seed table: a seed's value of a metric and the baseline's beside it (NaN: none)."""

    seed: int
    metric: str
    value: float
    baseline: float


def by_metric(rows: list[SeedValue]) -> dict[str, list[SeedValue]]:
    """The rows of each metric, metrics in the order they first appear, rows in table order."""
    grouped: dict[str, list[SeedValue]] = {}
    for row in rows:
        grouped.setdefault(row.metric, []).append(row)
    return grouped


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for one value)."""
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


@dataclass
class Summary:
    metrics: list[MetricSummary]
    per_seed: list[SeedValue]
    succeeded_seeds: list[int]
    missing_seeds: list[int]
    failed_seeds: dict[int, str]
    outcome: str = "inconclusive"
    ignored_files: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    primary: str = ""
    baseline_label: str = "baseline"
    baseline_source: str = ""
    strays: list[str] = field(default_factory=list)  # seed files the run wrote outside its results folder
    checks: list[dict] = field(default_factory=list)  # each criterion's check (arm_criteria), for the JSON report

    def metric(self, name: str | None) -> MetricSummary | None:
        return next((m for m in self.metrics if m.metric == name), None)

    @property
    def short_baseline(self) -> str:
        """The baseline as the page names it, cut to fit a sentence."""
        label = self.baseline_label
        return label if len(label) <= 60 else label[:59].rstrip() + "…"


@dataclass
class SeedFiles:
    """What collect may count: the configured seeds' files written by this run, and why any other is not counted.
    `raw` keeps the exact bytes read for each counted file (the evidence archived at collect)."""

    records: list[dict] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    raw: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class CountRules:
    """What a seed file must agree with to count.

    `started`: the tasks exprun's guard recorded starting in this attempt (provenance) — None only for runs
    without such records (launched by an older exprun, or by someone else). `failed`: tasks that ended with a
    non-zero status. `run_id`/`approved_hash`: cross-checks against what the file says of itself (never proof).
    `excluded`: a reason that excludes every file (the run's snapshot changed while it ran)."""

    run_id: str = ""
    approved_hash: str = ""
    started: frozenset[str] | None = None
    failed: dict = field(default_factory=dict)
    excluded: str = ""


def read_seed_files(
    results_dir: Path, seeds: list | None = None, rules: CountRules = CountRules(), arm: str = ""
) -> SeedFiles:
    """The seed files of this run: `seed_<N>.json` for each configured seed N (of `arm`), each read once.
    Anything else is listed, never counted; a broken or doubtful file is that seed's reason."""
    results_dir = Path(results_dir)
    found = SeedFiles()
    names = {}
    if results_dir.is_dir():
        for path in sorted(results_dir.glob("seed_*.json")):
            match = SEED_FILE.fullmatch(path.name)
            names[path.name] = int(match.group(1)) if match else None
    wanted = [int(s) for s in seeds] if seeds is not None else sorted(v for v in names.values() if v is not None)
    expected_names = {f"seed_{seed}.json" for seed in wanted}
    found.ignored = [name for name in names if name not in expected_names]
    for seed in wanted:
        path = results_dir / f"seed_{seed}.json"
        if not (path.exists() or path.is_symlink()):
            continue
        raw, data, problem = _read_one(path, seed, arm, rules)
        if problem:
            found.rejected[seed] = problem
        else:
            data["seed"] = seed
            found.records.append(data)
            found.raw[path.name] = raw
    return found


def _read_one(path: Path, seed: int, arm: str, rules: CountRules) -> tuple[bytes, dict, str]:
    """(the bytes, the seed file's data, "") or (b"", {}, why it does not count)."""
    name, task = path.name, f"{arm}:{seed}" if arm else str(seed)
    nothing: tuple[bytes, dict] = (b"", {})
    if path.is_symlink():
        return (*nothing, f"{name} is a link (to {os.readlink(path)}): a result counts only as the file its run wrote")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        return (*nothing, f"{name} is not a regular file")
    if info.st_nlink > 1:
        return (*nothing, f"{name} has another hard link: a linked copy of a result is not counted")
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        return (*nothing, f"{name} unreadable: {exc}")
    if not isinstance(data, dict):
        return (*nothing, f"{name} is not a JSON object")
    if not isinstance(data.get("metrics"), dict):
        return (*nothing, f"{name} has no 'metrics' object")
    if not isinstance(data.get("baseline_metrics", {}) or {}, dict):
        return (*nothing, f"{name}: 'baseline_metrics' is not an object")
    said = data.get("seed")
    if isinstance(said, bool) or not isinstance(said, int):
        return (*nothing, f"{name} has no whole-number `seed` field (the run contract asks for it); not counted")
    if said != seed:
        return (*nothing, f"{name} says seed {said}: a copy of another seed's file is not counted")
    if arm and data.get("arm") not in (None, arm):
        return (*nothing, f"{name} says arm {data.get('arm')!r}, it lies in arm {arm}'s folder; not counted")
    if rules.excluded:
        return (*nothing, rules.excluded)
    if rules.started is not None and task not in rules.started:
        return (
            *nothing,
            f"{name}: exprun's guard never started task {task} in this run (no provenance record); not counted",
        )
    if rules.failed.get(task) not in (None, 0):
        return (*nothing, f"{name}: its task failed (exit status {rules.failed[task]}), so the file is not its result")
    return _cross_check(name, data, rules) or (raw, data, "")


def _cross_check(name: str, data: dict, rules: CountRules) -> tuple[bytes, dict, str] | None:
    """What the file says of itself, against the record (only ever a reason to refuse, never proof)."""
    run_id, approved_hash = rules.run_id, rules.approved_hash
    if run_id and data.get("run_id") != run_id:
        if not data.get("run_id"):
            return b"", {}, f"{name} has no run_id, so it was not written by this run (run {run_id}); not counted"
        return b"", {}, f"{name} was written by another run ({data.get('run_id')!r}, this run is {run_id}); not counted"
    if approved_hash and data.get("code_hash") and data.get("code_hash") != approved_hash:
        return (
            b"",
            {},
            (
                f"{name} ran with changed code (hash {str(data['code_hash'])[:12]}, approved "
                f"{approved_hash[:12]}): config.yaml or the code was edited while the run was going; excluded"
            ),
        )
    return None


def summarize(
    records: list[dict],
    config: ExperimentConfig,
    broken: dict[int, str] | None = None,
    ignored: list[str] | None = None,
) -> Summary:
    """Mean ± std over the seeds whose primary metric is a finite number."""
    expected, metrics, primary = list(config.seeds), list(config.metrics), config.primary_metric
    failed = dict(broken or {})
    rows = []
    for record in records:
        seed, values = record["seed"], record["metrics"]
        if not finite(values.get(primary)):
            failed[seed] = f"{primary} is {values.get(primary)!r} (NaN/missing)"
            continue
        baseline = record.get("baseline_metrics") or {}
        for name in metrics or list(values):
            value, base = values.get(name), baseline.get(name)
            rows.append(
                SeedValue(
                    seed,
                    str(name),
                    float(value) if finite(value) else math.nan,
                    float(base) if finite(base) else math.nan,
                )
            )
    per_seed = rows
    succeeded = sorted({row.seed for row in rows})
    seen = {r["seed"] for r in records} | set(failed)
    missing = [s for s in expected if s not in seen]
    summaries = []
    fallback = config.baseline_results
    for name, group in by_metric(per_seed).items():
        counted = [row.value for row in group if not math.isnan(row.value)]
        if not counted:
            continue
        base = [row.baseline for row in group if not math.isnan(row.baseline)]
        baseline = _mean_std(base)[0] if base else (float(fallback[name]) if finite(fallback.get(name)) else None)
        mean, std = _mean_std(counted)
        summaries.append(MetricSummary(name, mean, std, len(counted), baseline, config.higher(name)))
    summary = Summary(
        summaries, per_seed, succeeded, missing, failed, primary=primary, ignored_files=list(ignored or [])
    )
    summary.baseline_label, summary.baseline_source = baseline_naming(config, per_seed)
    summary.outcome, summary.reasons, summary.checks = judge(
        summary, [dict(c) for c in config.success_criteria], single_run=len(config.seeds) == 1
    )
    return summary


def baseline_naming(config: ExperimentConfig, per_seed: list[SeedValue]) -> tuple[str, str]:
    """The baseline as the page names it, and where its numbers come from."""
    baseline = config.baseline
    label = " ".join(str(baseline.get("description") or baseline.get("name") or "baseline").split())
    if any(not math.isnan(row.baseline) for row in per_seed):
        return label, "run by the same program on the same data and seeds"
    if config.baseline_results:
        return label, f"config.yaml baseline_results ({config.baseline_source or 'source not given'})"
    return label, "no baseline numbers (not run, no baseline_results)"


CONTROL = "method"  # a single-arm experiment is judged as this arm against one named as the page names its baseline


def as_arms(summary: Summary) -> ArmsSummary:
    """The single-arm run as the one verdict engine sees it: a control arm (this run's seeds) and a baseline
    arm: each seed's own baseline numbers when its file carries them (paired by seed), else config.yaml's
    `baseline_results` as the same number for every seed (the interval is then our seeds' against it)."""
    baseline = summary.short_baseline if summary.short_baseline != CONTROL else "baseline"
    metric_values: dict[str, dict[str, dict[int, float]]] = {}
    for name, group in by_metric(summary.per_seed).items():
        ours = {row.seed: row.value for row in group if finite(row.value)}
        theirs = {row.seed: row.baseline for row in group if finite(row.baseline)}
        metric = summary.metric(name)
        if not theirs and metric is not None and metric.baseline is not None:
            theirs = dict.fromkeys(ours, metric.baseline)
        metric_values[name] = {CONTROL: ours, baseline: theirs}
    directions = {m.metric: m.higher_is_better for m in summary.metrics}
    primary = metric_values.get(summary.primary, {CONTROL: {}, baseline: {}})
    return ArmsSummary(
        [Arm(CONTROL, "control"), Arm(baseline, "baseline")],
        summary.primary,
        directions.get(summary.primary, True),
        primary,
        {},
        metric_values=metric_values,
        directions=directions,
    )


def judge(summary: Summary, criteria: list[dict], single_run: bool = False) -> tuple[str, list[str], list[dict]]:
    """(outcome, reasons, the criteria checks): fewer than 2 counted seeds cannot tell — unless the design is
    one run (`single_run`: config.yaml names one seed) and it counted; otherwise the criteria (none given: the
    primary metric beats the baseline) by the one rule (arm_criteria)."""
    counted = len(summary.succeeded_seeds)
    if counted < 2 and not (single_run and counted == 1):
        return "inconclusive", [f"only {counted} seed(s) succeeded ({TOO_FEW})"], []
    arms = as_arms(summary)
    arms.single_run = single_run
    checks = criteria_checks(arms, criteria)
    outcome, reasons = outcome_of(checks)
    return outcome, reasons, checks
