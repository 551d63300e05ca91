"""Seed files → one table → mean ± std per metric, Δ vs baseline, and the outcome. Pure.

Outcome rules (the seed's, made precise):
- inconclusive when fewer than 2 seeds succeeded, or when the 95 % t-interval of the primary criterion's Δ
  (paired by seed when each seed carries the baseline's number) spans both 0 and what the criterion asks;
- succeeded when every success criterion holds on the mean (a criterion may ask for an absolute Δ
  `min_delta`, a relative Δ `min_relative`, a `threshold`, and `significance`: a paired t-test over
  the seeds whose result file carries the baseline's numbers too);
- failed when the primary (first) criterion does not hold;
- inconclusive otherwise (mixed: primary holds, another criterion fails).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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


@dataclass
class Summary:
    metrics: list[MetricSummary]
    per_seed: pd.DataFrame
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


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def summarize(
    records: list[dict], config: dict, broken: dict[int, str] | None = None, ignored: list[str] | None = None
) -> Summary:
    """Mean ± std over the seeds whose primary metric is a finite number."""
    expected = [int(s) for s in config.get("seeds") or []]
    metrics = list(config.get("metrics") or [])
    primary = config.get("primary_metric") or (metrics[0] if metrics else "")
    higher = config.get("higher_is_better") or {}
    failed = dict(broken or {})
    rows = []
    for record in records:
        seed, values = record["seed"], record["metrics"]
        if not _finite(values.get(primary)):
            failed[seed] = f"{primary} is {values.get(primary)!r} (NaN/missing)"
            continue
        baseline = record.get("baseline_metrics") or {}
        for name in metrics or list(values):
            rows.append(
                {
                    "seed": seed,
                    "metric": name,
                    "value": values.get(name) if _finite(values.get(name)) else math.nan,
                    "baseline": baseline.get(name) if _finite(baseline.get(name)) else math.nan,
                }
            )
    per_seed = pd.DataFrame(rows, columns=["seed", "metric", "value", "baseline"])
    succeeded = sorted(per_seed["seed"].unique().tolist()) if len(per_seed) else []
    seen = {r["seed"] for r in records} | set(failed)
    missing = [s for s in expected if s not in seen]
    summaries = []
    fallback = baseline_results(config)
    for name, group in per_seed.groupby("metric", sort=False):
        values = group["value"].dropna()
        if values.empty:
            continue
        base = group["baseline"].dropna()
        baseline = float(base.mean()) if len(base) else (float(fallback[name]) if _finite(fallback.get(name)) else None)
        summaries.append(
            MetricSummary(
                name,
                float(values.mean()),
                float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                int(len(values)),
                baseline,
                bool(higher.get(name, True)),
            )
        )
    summary = Summary(
        summaries, per_seed, succeeded, missing, failed, primary=primary, ignored_files=list(ignored or [])
    )
    summary.baseline_label, summary.baseline_source = baseline_naming(config, per_seed)
    summary.outcome, summary.reasons = decide_outcome(summary, config.get("success_criteria") or [])
    return summary


def baseline_results(config: dict) -> dict[str, float]:
    """config.yaml `baseline_results`: `{source, metrics: {...}}` or a plain `{metric: value}` mapping."""
    given = config.get("baseline_results")
    if not isinstance(given, dict):
        return {}
    metrics = given.get("metrics")
    values = metrics if isinstance(metrics, dict) else given
    return {str(k): float(v) for k, v in values.items() if _finite(v)}


def baseline_naming(config: dict, per_seed: pd.DataFrame) -> tuple[str, str]:
    """The baseline as the page names it, and where its numbers come from."""
    named = config.get("baseline")
    baseline = named if isinstance(named, dict) else {}
    label = " ".join(str(baseline.get("description") or baseline.get("name") or "baseline").split())
    if len(per_seed) and per_seed["baseline"].notna().any():
        return label, "run by the same program on the same data and seeds"
    given = config.get("baseline_results")
    if baseline_results(config):
        source = given.get("source") if isinstance(given, dict) and isinstance(given.get("source"), str) else ""
        return label, f"config.yaml baseline_results ({source or 'source not given'})"
    return label, "no baseline numbers (not run, no baseline_results)"


def _significance(criterion: dict, summary: Summary, name: str, sign: int) -> tuple[bool | None, str]:
    """Paired one-sided t-test of method vs baseline over the seeds that carry both."""
    from scipy import stats  # scipy comes with scikit-learn

    alpha = float(criterion["significance"])
    rows = summary.per_seed[(summary.per_seed["metric"] == name)].dropna(subset=["value", "baseline"])
    if len(rows) < 2:
        return None, f"{name}: significance not testable (needs ≥ 2 seeds with the baseline run alongside)"
    diffs = sign * (rows["value"] - rows["baseline"])
    if float(diffs.std(ddof=1)) == 0.0:
        p_value = 0.0 if float(diffs.mean()) > 0 else 1.0
    else:
        p_value = float(stats.ttest_1samp(diffs, 0.0, alternative="greater").pvalue)
    ok = p_value < alpha
    return (
        ok,
        f"{name} paired t-test over {len(rows)} seeds: p = {p_value:.3g} (needs < {alpha:g}): {'yes' if ok else 'no'}",
    )


def criterion_holds(criterion: dict, summary: Summary) -> tuple[bool | None, str]:
    """(holds?, explanation); None when the metric or its baseline is unavailable."""
    name = criterion.get("metric")
    metric = summary.metric(name)
    if metric is None:
        return None, f"{name}: no value"
    assert name is not None  # a metric was found under this name
    sign = 1 if criterion.get("direction", "higher" if metric.higher_is_better else "lower") == "higher" else -1
    if "threshold" in criterion:
        ok = sign * (metric.mean - float(criterion["threshold"])) >= 0
        return (
            ok,
            f"{name} mean {metric.mean:.4f} {'≥' if sign > 0 else '≤'} {criterion['threshold']}: "
            f"{'yes' if ok else 'no'}",
        )
    if metric.baseline is None:
        return None, f"{name}: no baseline value to compare with"
    assert metric.delta is not None  # a baseline gives a Δ
    min_delta = float(criterion.get("min_delta", 0.0))
    ok = sign * metric.delta > min_delta if min_delta == 0 else sign * metric.delta >= min_delta
    need = (
        ("Δ > 0" if sign > 0 else "Δ < 0")
        if min_delta == 0
        else (f"Δ ≥ +{min_delta:g}" if sign > 0 else f"Δ ≤ -{min_delta:g}")
    )
    texts = [f"{name} Δ {metric.delta:+.4f} vs {summary.short_baseline} (needs {need}): {'yes' if ok else 'no'}"]
    verdicts: list[bool | None] = [ok]
    if "min_relative" in criterion:
        wanted = float(criterion["min_relative"])
        relative = metric.relative_delta
        rel_ok = None if relative is None else sign * relative >= wanted
        verdicts.append(rel_ok)
        texts.append(
            f"{name} relative Δ {'—' if relative is None else f'{relative:+.2%}'} "
            f"(needs {'+' if sign > 0 else '-'}{wanted:.2%}): {'—' if rel_ok is None else 'yes' if rel_ok else 'no'}"
        )
    if "significance" in criterion:
        sig_ok, text = _significance(criterion, summary, name, sign)
        verdicts.append(sig_ok)
        texts.append(text)
    if False in verdicts:
        return False, "; ".join(texts)
    return (None if None in verdicts else True), "; ".join(texts)


def delta_interval(summary: Summary, name: str | None):
    """The 95 % t-interval of Δ = ours − baseline: paired by seed when each seed carries the baseline's number,
    else of our values against the one baseline number."""
    from exprun.verdict import arm_stats

    metric = summary.metric(name)
    if metric is None or metric.baseline is None:
        return None
    rows = summary.per_seed[summary.per_seed["metric"] == name].dropna(subset=["value"])
    paired = rows.dropna(subset=["baseline"])
    if len(paired) >= 2:
        return arm_stats.interval([float(v - b) for v, b in zip(paired["value"], paired["baseline"], strict=False)])
    return arm_stats.interval([float(v) - metric.baseline for v in rows["value"]])


def excessive_variance(summary: Summary, criterion: dict) -> str:
    """ "" unless the interval of Δ spans both 0 and what the criterion asks (then the run cannot tell)."""
    if "threshold" in criterion:
        return ""
    metric = summary.metric(criterion.get("metric"))
    interval = delta_interval(summary, criterion.get("metric")) if metric is not None else None
    if metric is None or interval is None or interval.low is None:
        return ""
    sign = 1 if criterion.get("direction", "higher" if metric.higher_is_better else "lower") == "higher" else -1
    need = sign * float(criterion.get("min_delta", 0.0))
    low, high = interval.low, interval.high
    if low <= 0 <= high and low <= need <= high:
        wide = f"; {interval.wide_note}" if interval.wide_note else ""
        return (
            f"the 95 % interval of Δ [{low:+.4f}, {high:+.4f}] spans both 0 and the criterion ({need:+g}): "
            f"excessive variance{wide}"
        )
    return ""


def decide_outcome(summary: Summary, criteria: list[dict]) -> tuple[str, list[str]]:
    if len(summary.succeeded_seeds) < 2:
        return "inconclusive", [f"only {len(summary.succeeded_seeds)} seed(s) succeeded (need at least 2)"]
    if not criteria:
        criteria = [{"metric": summary.primary, "vs": "baseline", "min_delta": 0.0}]
    results = [criterion_holds(c, summary) for c in criteria]
    reasons = [text for _, text in results]
    spread = excessive_variance(summary, criteria[0])
    if spread:
        return "inconclusive", reasons + [spread]
    if all(ok for ok, _ in results):
        return "succeeded", reasons
    if results[0][0] is False:
        return "failed", reasons
    return "inconclusive", reasons + ["mixed: not every criterion holds"]
