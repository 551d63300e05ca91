"""Seed files → mean ± std per metric, Δ vs baseline, and the outcome a person reads on the page."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from exprun.experiment.experiment_config import ExperimentConfig
from exprun.verdict import results

SLUG = "digits-mlp-vs-logreg"
ACC = "accuracy"
F1 = "f1_macro"


def write_seed(folder: Path, seed: int, metrics: dict, baseline: dict | None = None) -> Path:
    """One seed file in the shape train.py writes (json.dumps writes NaN for float('nan'))."""
    data = {"slug": SLUG, "seed": seed, "metrics": metrics, "steps": 460, "wall_time_s": 1.25, "config_hash": "abc123"}
    if baseline is not None:
        data["baseline_metrics"] = baseline
    path = folder / f"seed_{seed}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_raw(folder: Path, seed: int, text: str) -> Path:
    path = folder / f"seed_{seed}.json"
    path.write_text(text, encoding="utf-8")
    return path


def config(metrics=(ACC, F1), seeds=(0, 1, 2), criteria=None, **extra) -> dict:
    cfg = {
        "slug": SLUG,
        "seeds": list(seeds),
        "metrics": list(metrics),
        "primary_metric": metrics[0],
        "higher_is_better": {m: m not in ("mse", "rmse", "mae", "log_loss") for m in metrics},
    }
    if criteria is not None:
        cfg["success_criteria"] = criteria
    cfg.update(extra)
    return cfg


def summarize_dir(folder: Path, cfg: dict) -> results.Summary:
    found = results.read_seed_files(folder)
    return results.summarize(found.records, ExperimentConfig.from_mapping(cfg), found.rejected, found.ignored)


# ------------------------------------------------------------------ statistics


def test_mean_std_and_delta_per_metric(tmp_path):
    acc, acc_base = [0.97, 0.98, 0.975], [0.95, 0.95, 0.96]
    f1, f1_base = [0.96, 0.972, 0.965], [0.94, 0.945, 0.95]
    for seed in range(3):
        write_seed(tmp_path, seed, {ACC: acc[seed], F1: f1[seed]}, {ACC: acc_base[seed], F1: f1_base[seed]})

    summary = summarize_dir(tmp_path, config())

    assert [m.metric for m in summary.metrics] == [ACC, F1]
    for name, values, base in ((ACC, acc, acc_base), (F1, f1, f1_base)):
        m = summary.metric(name)
        assert m.n == 3
        assert m.mean == pytest.approx(statistics.mean(values))
        assert m.std == pytest.approx(statistics.stdev(values))  # sample std, ddof=1
        assert m.baseline == pytest.approx(statistics.mean(base))
        assert m.delta == pytest.approx(statistics.mean(values) - statistics.mean(base))
        assert m.relative_delta == pytest.approx(
            (statistics.mean(values) - statistics.mean(base)) / statistics.mean(base)
        )
    assert summary.succeeded_seeds == [0, 1, 2]
    assert summary.missing_seeds == [] and summary.failed_seeds == {}
    assert summary.primary == ACC


def test_single_value_has_zero_std_not_nan(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.9, F1: 0.8}, {ACC: 0.85, F1: 0.8})
    summary = summarize_dir(tmp_path, config(seeds=[0]))
    assert summary.metric(ACC).std == 0.0 and summary.metric(ACC).n == 1


def test_baseline_falls_back_to_config_baseline_results(tmp_path):
    for seed, value in enumerate([0.97, 0.98, 0.975]):
        write_seed(tmp_path, seed, {ACC: value, F1: value - 0.01})  # no baseline_metrics in the files
    summary = summarize_dir(tmp_path, config(baseline_results={ACC: 0.9, F1: 0.88}))
    acc = summary.metric(ACC)
    assert acc.baseline == pytest.approx(0.9)
    assert acc.delta == pytest.approx(0.975 - 0.9)
    assert acc.relative_delta == pytest.approx((0.975 - 0.9) / 0.9)
    assert summary.metric(F1).baseline == pytest.approx(0.88)


def test_seed_files_baseline_wins_over_config_baseline_results(tmp_path):
    for seed, value in enumerate([0.97, 0.98, 0.975]):
        write_seed(tmp_path, seed, {ACC: value, F1: value}, {ACC: 0.95, F1: 0.95})
    summary = summarize_dir(tmp_path, config(baseline_results={ACC: 0.5, F1: 0.5}))
    assert summary.metric(ACC).baseline == pytest.approx(0.95)


def test_no_baseline_anywhere_leaves_delta_empty_and_outcome_inconclusive(tmp_path):
    for seed, value in enumerate([0.97, 0.98, 0.975]):
        write_seed(tmp_path, seed, {ACC: value, F1: value})
    summary = summarize_dir(tmp_path, config())
    acc = summary.metric(ACC)
    assert acc.baseline is None and acc.delta is None and acc.relative_delta is None
    assert summary.outcome == "inconclusive"
    assert any("no baseline" in reason for reason in summary.reasons)


def test_zero_baseline_has_no_relative_delta(tmp_path):
    for seed, value in enumerate([0.1, 0.2, 0.15]):
        write_seed(tmp_path, seed, {"r2": value}, {"r2": 0.0})
    m = summarize_dir(tmp_path, config(metrics=("r2",))).metric("r2")
    assert m.delta == pytest.approx(0.15)
    assert m.relative_delta is None


def test_negative_baseline_relative_delta_uses_its_magnitude(tmp_path):
    for seed, value in enumerate([0.1, 0.2, 0.15]):
        write_seed(tmp_path, seed, {"r2": value}, {"r2": -0.5})
    m = summarize_dir(tmp_path, config(metrics=("r2",))).metric("r2")
    assert m.relative_delta == pytest.approx((0.15 + 0.5) / 0.5)  # improvement reads as positive


def test_metrics_default_to_those_in_the_files_when_config_names_none(tmp_path):
    for seed, value in enumerate([0.9, 0.92]):
        write_seed(tmp_path, seed, {ACC: value, "precision_macro": value - 0.05}, {ACC: 0.8, "precision_macro": 0.7})
    summary = summarize_dir(tmp_path, {"seeds": [0, 1], "primary_metric": ACC})
    assert {m.metric for m in summary.metrics} == {ACC, "precision_macro"}
    assert summary.metric("precision_macro").mean == pytest.approx(0.86)


# ------------------------------------------------------------------ outcome

BASE = {ACC: 0.95, F1: 0.94}
OUTCOMES = [
    # id, accuracy per seed, f1 per seed, baseline, criteria, expected outcome, a phrase the reasons contain
    (
        "all-criteria-hold",
        [0.97, 0.98, 0.975],
        [0.96, 0.97, 0.965],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.005}, {"metric": F1, "vs": "baseline", "min_delta": 0.0}],
        "succeeded",
        "yes",
    ),
    (
        "default-criterion-primary-beats-baseline",
        [0.97, 0.98, 0.975],
        [0.96, 0.97, 0.965],
        BASE,
        None,
        "succeeded",
        "Δ +0.0250 accuracy",
    ),
    (
        "primary-clearly-worse",
        [0.90, 0.905, 0.91],
        [0.96, 0.97, 0.965],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.005}],
        "failed",
        "no",
    ),
    (
        "beats-baseline-but-short-of-min-delta",
        [0.952, 0.953, 0.954],
        [0.96, 0.97, 0.965],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.005}],
        "inconclusive",  # mean Δ +0.003 is short, but its interval [+0.0005, +0.0055] reaches +0.005
        "straddles",
    ),
    (
        "mixed-primary-holds-secondary-fails",
        [0.97, 0.98, 0.975],
        [0.90, 0.905, 0.91],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.0}, {"metric": F1, "vs": "baseline", "min_delta": 0.0}],
        "failed",  # every criterion is required: F1's whole interval lies below the baseline
        "f1_macro (-3.72%)",
    ),
    (
        "delta-within-spread-though-criterion-holds",
        [0.91, 0.99, 0.98],
        [0.96, 0.97, 0.965],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.005}],
        "inconclusive",
        "excessive variance",
    ),
    (
        "delta-within-spread-though-worse",
        [0.90, 0.99, 0.93],
        [0.96, 0.97, 0.965],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.0}],
        "inconclusive",
        "excessive variance",
    ),
    (
        "absolute-threshold-met",
        [0.97, 0.98, 0.975],
        [0.96, 0.97, 0.965],
        None,
        [{"metric": ACC, "threshold": 0.95}],
        "succeeded",
        "(needs ≥ 0.95): yes",
    ),
    (
        "absolute-threshold-missed",
        [0.97, 0.98, 0.975],
        [0.96, 0.97, 0.965],
        None,
        [{"metric": ACC, "threshold": 0.99}],
        "failed",
        "(needs ≥ 0.99): no",
    ),
    (
        "threshold-on-secondary-missed",
        [0.97, 0.98, 0.975],
        [0.96, 0.97, 0.965],
        BASE,
        [{"metric": ACC, "vs": "baseline", "min_delta": 0.0}, {"metric": F1, "threshold": 0.99}],
        "failed",
        "f1_macro mean 0.9650, 95 % CI [0.9526, 0.9774] over 3 seeds (needs ≥ 0.99): no",
    ),
]


@pytest.mark.parametrize(
    "acc,f1,baseline,criteria,expected,phrase", [o[1:] for o in OUTCOMES], ids=[o[0] for o in OUTCOMES]
)
def test_outcome(tmp_path, acc, f1, baseline, criteria, expected, phrase):
    for seed in range(3):
        write_seed(tmp_path, seed, {ACC: acc[seed], F1: f1[seed]}, baseline)
    summary = summarize_dir(tmp_path, config(criteria=criteria))
    assert summary.outcome == expected, summary.reasons
    assert any(phrase in reason for reason in summary.reasons), summary.reasons


LOWER_IS_BETTER = [
    # id, mse per seed, baseline mse, criteria, higher_is_better for mse, expected
    (
        "lower-mse-beats-baseline",
        [0.10, 0.11, 0.105],
        0.15,
        [{"metric": "mse", "vs": "baseline", "min_delta": 0.02}],
        False,
        "succeeded",
    ),
    (
        "higher-mse-is-worse",
        [0.20, 0.21, 0.205],
        0.15,
        [{"metric": "mse", "vs": "baseline", "min_delta": 0.0}],
        False,
        "failed",
    ),
    (
        "lower-but-short-of-min-delta",
        [0.14, 0.141, 0.142],
        0.15,
        [{"metric": "mse", "vs": "baseline", "min_delta": 0.02}],
        False,
        "failed",
    ),
    (
        "criterion-direction-lower-overrides-default",
        [0.10, 0.11, 0.105],
        0.15,
        [{"metric": "mse", "vs": "baseline", "direction": "lower", "min_delta": 0.0}],
        True,
        "succeeded",
    ),
    ("threshold-at-most", [0.10, 0.11, 0.105], None, [{"metric": "mse", "threshold": 0.12}], False, "succeeded"),
    # mean 0.105 misses 0.1, but the interval [0.093, 0.117] reaches it: more seeds would tell
    (
        "threshold-at-most-straddled",
        [0.10, 0.11, 0.105],
        None,
        [{"metric": "mse", "threshold": 0.1}],
        False,
        "inconclusive",
    ),
    ("threshold-at-most-missed", [0.13, 0.14, 0.135], None, [{"metric": "mse", "threshold": 0.1}], False, "failed"),
]


@pytest.mark.parametrize(
    "mse,base,criteria,higher,expected", [c[1:] for c in LOWER_IS_BETTER], ids=[c[0] for c in LOWER_IS_BETTER]
)
def test_lower_is_better_metric(tmp_path, mse, base, criteria, higher, expected):
    for seed in range(3):
        write_seed(tmp_path, seed, {"mse": mse[seed], "r2": 0.5}, None if base is None else {"mse": base, "r2": 0.4})
    cfg = config(metrics=("mse", "r2"), criteria=criteria)
    cfg["higher_is_better"] = {"mse": higher, "r2": True}
    summary = summarize_dir(tmp_path, cfg)
    assert summary.outcome == expected, summary.reasons
    if base is not None:
        assert summary.metric("mse").delta == pytest.approx(statistics.mean(mse) - base)


def test_threshold_reason_shows_lower_is_better_comparison(tmp_path):
    for seed, value in enumerate([0.10, 0.11, 0.105]):
        write_seed(tmp_path, seed, {"mse": value})
    cfg = config(metrics=("mse",), criteria=[{"metric": "mse", "threshold": 0.12}])
    summary = summarize_dir(tmp_path, cfg)
    assert summary.reasons == [
        "method mse mean 0.1050, 95 % CI [0.0926, 0.1174] over 3 seeds (needs ≤ 0.12): yes, the whole interval "
        "is on the success side"
    ]


def test_judge_reevaluates_other_criteria(tmp_path):
    for seed, value in enumerate([0.97, 0.98, 0.975]):
        write_seed(tmp_path, seed, {ACC: value, F1: value}, BASE)
    summary = summarize_dir(tmp_path, config())
    assert results.judge(summary, [{"metric": ACC, "threshold": 0.99}])[0] == "failed"
    assert results.judge(summary, [{"metric": ACC, "threshold": 0.9}])[0] == "succeeded"
    outcome, reasons, checks = results.judge(summary, [{"metric": "roc_auc", "vs": "baseline"}])
    assert outcome == "inconclusive" and "no value of roc_auc" in reasons[0] and checks[0]["verdict"] == "unknown"


# ------------------------------------------------------------------ missing and broken seeds


def test_missing_seed_files_are_listed_and_one_survivor_is_inconclusive(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.99, F1: 0.99}, BASE)  # would be a clear win, but it is one seed
    summary = summarize_dir(tmp_path, config(criteria=[{"metric": ACC, "vs": "baseline", "min_delta": 0.0}]))
    assert summary.missing_seeds == [1, 2]
    assert summary.succeeded_seeds == [0]
    assert summary.outcome == "inconclusive"
    assert "only 1 seed(s) succeeded" in summary.reasons[0]
    assert summary.metric(ACC).mean == pytest.approx(0.99) and summary.metric(ACC).n == 1


def test_available_seeds_are_summarised_normally_when_one_is_missing(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.97, F1: 0.96}, BASE)
    write_seed(tmp_path, 2, {ACC: 0.98, F1: 0.97}, BASE)
    summary = summarize_dir(tmp_path, config())
    assert summary.missing_seeds == [1]
    assert summary.succeeded_seeds == [0, 2]
    assert summary.metric(ACC).mean == pytest.approx(0.975)
    # two seeds: the interval of Δ is wide, and the report says so instead of calling it a success
    assert summary.outcome == "inconclusive"
    assert any("only 2 seeds: the interval is wide" in r for r in summary.reasons), summary.reasons


def test_no_seed_files_at_all(tmp_path):
    summary = summarize_dir(tmp_path, config())
    assert summary.metrics == [] and summary.succeeded_seeds == []
    assert summary.missing_seeds == [0, 1, 2]
    assert summary.outcome == "inconclusive"


@pytest.mark.parametrize(
    "primary_json",
    ["NaN", "null", "Infinity", "-Infinity", '"0.97"', "true"],
    ids=["nan", "null", "inf", "-inf", "string", "bool"],
)
def test_non_finite_primary_metric_fails_that_seed_and_is_excluded(tmp_path, primary_json):
    write_seed(tmp_path, 0, {ACC: 0.97, F1: 0.96}, BASE)
    write_seed(tmp_path, 1, {ACC: 0.98, F1: 0.97}, BASE)
    write_raw(
        tmp_path,
        2,
        f'{{"slug": "x", "seed": 2, "metrics": {{"accuracy": {primary_json}, "f1_macro": 0.1}},'
        ' "baseline_metrics": {"accuracy": 0.5, "f1_macro": 0.5}}',
    )
    summary = summarize_dir(tmp_path, config())
    assert list(summary.failed_seeds) == [2]
    assert ACC in summary.failed_seeds[2]
    assert summary.succeeded_seeds == [0, 1]
    assert summary.missing_seeds == []  # a failed seed is not a missing one
    acc = summary.metric(ACC)
    assert acc.mean == pytest.approx(0.975) and acc.n == 2
    assert acc.baseline == pytest.approx(0.95)  # the failed seed's baseline is excluded too
    assert summary.metric(F1).mean == pytest.approx(0.965)  # and its other metrics
    assert 2 not in [row.seed for row in summary.per_seed]


def test_primary_metric_absent_from_a_seed_fails_it(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.97, F1: 0.96}, BASE)
    write_seed(tmp_path, 1, {ACC: 0.98, F1: 0.97}, BASE)
    write_seed(tmp_path, 2, {F1: 0.5}, BASE)
    summary = summarize_dir(tmp_path, config())
    assert list(summary.failed_seeds) == [2] and summary.succeeded_seeds == [0, 1]


def test_nan_in_a_secondary_metric_keeps_the_seed(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.97, F1: 0.96}, BASE)
    write_seed(tmp_path, 1, {ACC: 0.98, F1: float("nan")}, BASE)
    write_seed(tmp_path, 2, {ACC: 0.975, F1: 0.97}, BASE)
    summary = summarize_dir(tmp_path, config())
    assert summary.succeeded_seeds == [0, 1, 2] and summary.failed_seeds == {}
    assert summary.metric(ACC).n == 3
    f1 = summary.metric(F1)
    assert f1.n == 2 and f1.mean == pytest.approx(0.965) and not math.isnan(f1.std)


def test_nan_seeds_leaving_one_survivor_make_it_inconclusive(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.99, F1: 0.99}, BASE)
    write_seed(tmp_path, 1, {ACC: float("nan"), F1: 0.9}, BASE)
    write_seed(tmp_path, 2, {ACC: None, F1: 0.9}, BASE)
    summary = summarize_dir(tmp_path, config())
    assert sorted(summary.failed_seeds) == [1, 2]
    assert summary.outcome == "inconclusive"


@pytest.mark.parametrize(
    "text",
    ["{not json", "", "[1, 2, 3]", '{"slug": "x", "seed": 1}', '{"metrics": [0.9]}', '"just a string"'],
    ids=["syntax-error", "empty", "list", "no-metrics", "metrics-not-object", "string"],
)
def test_unreadable_seed_file_is_listed_as_failed(tmp_path, text):
    write_seed(tmp_path, 0, {ACC: 0.97, F1: 0.96}, BASE)
    write_seed(tmp_path, 2, {ACC: 0.98, F1: 0.97}, BASE)
    write_raw(tmp_path, 1, text)

    found = results.read_seed_files(tmp_path)
    records, broken = found.records, found.rejected
    assert [r["seed"] for r in records] == [0, 2]
    assert list(broken) == [1] and broken[1].startswith("seed_1.json ")

    summary = results.summarize(records, ExperimentConfig.from_mapping(config()), broken)
    assert list(summary.failed_seeds) == [1]
    assert summary.missing_seeds == []
    assert summary.succeeded_seeds == [0, 2]
    assert summary.metric(ACC).mean == pytest.approx(0.975)


def test_non_utf8_seed_file_is_listed_as_failed(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.97}, {ACC: 0.9})
    (tmp_path / "seed_1.json").write_bytes(b'{"metrics": {"accuracy": 0.9\xff}}')
    found = results.read_seed_files(tmp_path)
    assert [r["seed"] for r in found.records] == [0] and list(found.rejected) == [1]


def test_read_seed_files_takes_only_seed_files_whose_seed_matches_the_name(tmp_path):
    write_seed(tmp_path, 0, {ACC: 0.9})
    write_raw(tmp_path, 3, json.dumps({"seed": 99, "metrics": {ACC: 0.8}}))  # a copy of another seed's file
    for other in (
        "seed_x.json",
        "seed_1.json.tmp",
        ".seed_2.json.123.tmp",
        "summary.json",
        "seed_4.txt",
        "seed_5.json\n",
    ):
        (tmp_path / other).write_text('{"metrics": {"accuracy": 0.1}}', encoding="utf-8")
    found = results.read_seed_files(tmp_path)
    assert sorted(r["seed"] for r in found.records) == [0]
    assert list(found.rejected) == [3] and "says seed 99" in found.rejected[3]


def test_read_seed_files_on_missing_folder_is_empty(tmp_path):
    found = results.read_seed_files(tmp_path / "results" / "nope", [0, 1])
    assert (found.records, found.rejected, found.ignored) == ([], {}, [])
