"""Multi-arm verdicts, golden-style with numbers one can check by hand (t quantiles from scipy, never a
table): the per-parameter sweep tables with the best value and the sensitivity, the sweep plot, and the
success criteria against baselines — metric, direction, min_delta / min_relative, threshold and the
interval at 1 − significance — as arm_results' docstring states them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from exprun.experiment import arms
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.verdict import analysis_note, arm_results, arm_sweeps, plots
from exprun.verdict.results import CountRules
from exprun.wiki import pages

CONFIG = {
    "seeds": [0, 1, 2],
    "metrics": ["accuracy", "f1_macro"],
    "primary_metric": "accuracy",
    "higher_is_better": {"accuracy": True, "f1_macro": True},
}


def t_ci(values, level=0.95):
    """mean, sample std and the two-sided t-interval at `level`, as scipy computes them."""
    values = np.asarray(values, dtype=float)
    low, high = stats.t.interval(level, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return float(values.mean()), float(values.std(ddof=1)), float(low), float(high)


def summarize(entries, values, metric_values=None, **extra):
    config = {**CONFIG, "arms": list(entries), **extra}
    found = arms.of(config)
    return arm_results.summarize(
        found, values, {a.name: {} for a in found}, ExperimentConfig.from_mapping(config), metric_values=metric_values
    )


# ------------------------------------------------------------------ sweeps

CONTROL = {"name": "full", "role": "control"}
LR = {
    "full": {0: 0.90, 1: 0.91, 2: 0.92},
    "learning_rate=0.1": {0: 0.70, 1: 0.71, 2: 0.75},
    "learning_rate=0.001": {0: 0.80, 1: 0.82, 2: 0.84},
    "learning_rate=0.01": {0: 0.93, 1: 0.95, 2: 0.94},
}


def lr_sweep():
    grid = arms.expand_sweep({"hyperparameters.learning_rate": [0.1, 0.001, 0.01]})  # not in order on purpose
    return summarize([CONTROL, *grid], LR)


def test_a_learning_rate_sweep_is_one_table_in_value_order_with_intervals_and_deltas():
    s = lr_sweep()
    assert [t.parameter for t in s.sweeps] == ["learning_rate"]
    table = s.sweeps[0]
    assert [r.value for r in table.rows] == [0.001, 0.01, 0.1] and table.numeric
    for row in table.rows:
        seeds = LR[row.arm]
        mean, std, low, high = t_ci(list(seeds.values()))
        assert (row.interval.mean, row.interval.std, row.interval.low, row.interval.high) == pytest.approx(
            (mean, std, low, high)
        )
        d_mean, _, d_low, d_high = t_ci([seeds[k] - LR["full"][k] for k in (0, 1, 2)])
        assert row.delta.reference == "full"
        assert (row.delta.delta.mean, row.delta.delta.low, row.delta.delta.high) == pytest.approx(
            (d_mean, d_low, d_high)
        )
    text = arm_results.results_section(s)
    assert "| learning_rate | mean ± std | 95 % CI | seeds | Δ vs control | 95 % CI of Δ |" in text
    mean, std, low, high = t_ci([0.93, 0.95, 0.94])
    assert f"| 0.01 | {mean:.4f} ± {std:.4f} | [{low:.4f}, {high:.4f}] | 3 | +0.0300 (+3.3%) |" in text


def test_the_best_value_comes_with_its_interval_and_the_sensitivity():
    s = lr_sweep()
    table = s.sweeps[0]
    mean, _, low, high = t_ci([0.93, 0.95, 0.94])
    assert table.best.value == 0.01 and table.best.interval.low == pytest.approx(low)
    assert table.spread == pytest.approx(0.94 - np.mean([0.70, 0.71, 0.75]))  # best − worst mean
    assert table.relative_spread == pytest.approx(table.spread / 0.94)
    line = f"best learning_rate = 0.01: accuracy {mean:.4f} (95 % CI [{low:.4f}, {high:.4f}], 3 seeds)"
    assert s.outcome == "inconclusive" and s.reasons[0].startswith(line)
    assert f"sensitivity: the mean moves by {table.spread:.4f} ({table.spread / 0.94:.1%} of the best)" in s.reasons[0]
    assert "Best learning_rate = 0.01" in arm_results.results_section(s)
    assert "best learning_rate = 0.01 (accuracy 0.9400" in arm_results.key_result(s)
    data = json.loads(json.dumps(arm_sweeps.sweep_data(s)))  # what collected.json carries
    assert data[0]["parameter"] == "learning_rate" and [r["value"] for r in data[0]["rows"]] == [0.001, 0.01, 0.1]
    assert data[0]["best"]["value"] == 0.01 and data[0]["best"]["ci_low"] == pytest.approx(low)
    assert data[0]["sensitivity"] == pytest.approx({"spread": table.spread, "relative_to_best": table.spread / 0.94})
    assert data[0]["rows"][1]["delta_vs_control"]["mean"] == pytest.approx(0.03)


def test_lower_is_better_picks_the_lowest_mean():
    grid = arms.expand_sweep({"hyperparameters.learning_rate": [0.001, 0.01, 0.1]})
    values = {
        "learning_rate=0.001": {0: 0.5, 1: 0.6},
        "learning_rate=0.01": {0: 0.3, 1: 0.35},
        "learning_rate=0.1": {0: 0.9, 1: 1.0},
    }
    s = summarize(grid, values, metrics=["loss"], primary_metric="loss", higher_is_better={"loss": False})
    assert s.sweeps[0].best.value == 0.01
    assert s.sweeps[0].relative_spread == pytest.approx((0.95 - 0.325) / 0.325)


def test_two_swept_parameters_make_two_tables_each_with_its_own_best():
    entries = [
        *arms.expand_sweep({"hyperparameters.learning_rate": [0.001, 0.01]}),
        *arms.expand_sweep({"hyperparameters.batch_size": [64, 32, 128]}),
    ]
    values = {
        "learning_rate=0.001": {0: 0.80, 1: 0.82, 2: 0.84},
        "learning_rate=0.01": {0: 0.90, 1: 0.92, 2: 0.91},
        "batch_size=64": {0: 0.88, 1: 0.89, 2: 0.90},
        "batch_size=32": {0: 0.91, 1: 0.93, 2: 0.92},
        "batch_size=128": {0: 0.85, 1: 0.86, 2: 0.84},
    }
    s = summarize(entries, values)
    assert [t.parameter for t in s.sweeps] == ["learning_rate", "batch_size"]
    assert [r.value for r in s.sweeps[1].rows] == [32, 64, 128]
    assert [t.best.value for t in s.sweeps] == [0.01, 32]
    assert s.sweeps[1].spread == pytest.approx(0.92 - 0.85)
    text = arm_results.results_section(s)
    assert "| learning_rate | mean ± std | 95 % CI | seeds |\n" in text  # no control: no Δ columns
    assert "| batch_size | mean ± std | 95 % CI | seeds |\n" in text
    assert (
        text.index("Sweep of learning_rate")
        < text.index("Best learning_rate = 0.01")
        < text.index("Sweep of batch_size")
    )
    assert s.reasons[0].startswith("best learning_rate") and s.reasons[1].startswith("best batch_size")


def test_grid_points_of_two_settings_are_one_table_of_points():
    entries = arms.expand_sweep({"hyperparameters.learning_rate": [0.001, 0.01], "hyperparameters.batch_size": [32]})
    values = {
        "learning_rate=0.001+batch_size=32": {0: 0.8, 1: 0.82},
        "learning_rate=0.01+batch_size=32": {0: 0.9, 1: 0.92},
    }
    s = summarize(entries, values)
    assert [t.parameter for t in s.sweeps] == ["learning_rate × batch_size"]
    assert [r.value for r in s.sweeps[0].rows] == [(0.001, 32), (0.01, 32)] and not s.sweeps[0].numeric
    assert "| 0.01, 32 | 0.9100 ±" in arm_results.results_section(s)
    assert plots.sweep_axis(s.sweeps[0]) == "categorical"


def test_the_sweep_plot_is_written_next_to_the_arm_plot(tmp_path):
    pytest.importorskip("matplotlib")
    s = lr_sweep()
    assert plots.sweep_axis(s.sweeps[0]) == "log"  # 0.001 … 0.1 spans two decades
    path = tmp_path / "assets" / "x-seeds_sweep.png"
    assert plots.sweep_plot(s, path, "lr sweep")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000
    narrow = summarize(
        arms.expand_sweep({"hyperparameters.batch_size": [32, 64]}),
        {"batch_size=32": {0: 0.9, 1: 0.91}, "batch_size=64": {0: 0.88, 1: 0.9}},
    )
    assert plots.sweep_axis(narrow.sweeps[0]) == "linear"
    none = summarize([CONTROL, {"name": "lr", "role": "baseline"}], {"full": {0: 0.9, 1: 0.91}, "lr": {0: 0.8, 1: 0.8}})
    assert not plots.sweep_plot(none, tmp_path / "none.png", "t") and not (tmp_path / "none.png").exists()


# ------------------------------------------------------------------ criteria against baselines

OURS = {0: 0.92, 1: 0.94, 2: 0.96}
CLOSE = {0: 0.90, 1: 0.91, 2: 0.92}  # Δ = 0.02, 0.03, 0.04: above 0 at 95 %, not at 99 %
FAR = {0: 0.82, 1: 0.84, 2: 0.85}  # Δ = 0.10, 0.10, 0.11: above 0 at either level
TWO_BASELINES = [CONTROL, {"name": "close", "role": "baseline"}, {"name": "far", "role": "baseline"}]
VALUES = {"full": OURS, "close": CLOSE, "far": FAR}


def criteria(**fields):
    return {"success_criteria": [{"metric": "accuracy", "vs": "baseline", **fields}]}


def test_significance_asks_the_interval_at_one_minus_alpha_to_clear_zero():
    d_close = [OURS[k] - CLOSE[k] for k in (0, 1, 2)]
    _, _, low95, _ = t_ci(d_close, 0.95)
    _, _, low99, high99 = t_ci(d_close, 0.99)
    assert low95 > 0 > low99  # the numbers do what the test is about
    at_05 = summarize(TWO_BASELINES, VALUES, **criteria(significance=0.05))
    assert at_05.outcome == "succeeded" and [c["verdict"] for c in at_05.checks] == ["holds", "holds"]
    at_01 = summarize(TWO_BASELINES, VALUES, **criteria(significance=0.01))
    assert [c["verdict"] for c in at_01.checks] == ["wide", "holds"]
    assert at_01.outcome == "inconclusive" and "excessive variance" in at_01.reasons[-1]
    assert at_01.checks[0]["level"] == pytest.approx(0.99) and at_01.checks[0]["ci_low"] == pytest.approx(low99)
    assert f"99 % CI [{low99:+.4f}, {high99:+.4f}]" in at_01.reasons[0]
    assert (
        f"vs close accuracy Δ +0.0300 99 % CI [{low99:+.4f}, {high99:+.4f}]: excessive variance"
        in arm_results.key_result(at_01)
    )
    # the same interval lying wholly below what is asked is a confident failure, not excessive variance
    far_need = summarize(TWO_BASELINES, VALUES, **criteria(significance=0.01, min_delta=round(high99 + 0.01, 3)))
    assert far_need.checks[0]["verdict"] == "fails" and far_need.outcome == "failed"
    plain = summarize(TWO_BASELINES, VALUES, **criteria())  # no significance: 95 %, judged on the mean
    assert plain.outcome == "succeeded" and plain.checks[0]["level"] == pytest.approx(0.95)


def write_seed(folder: Path, seed: int, **metrics) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed_{seed}.json").write_text(json.dumps({"seed": seed, "metrics": metrics}))


def test_a_criterion_on_a_non_primary_metric_reads_that_metric_from_the_seed_files(tmp_path):
    entries = [CONTROL, {"name": "lr", "role": "baseline"}]
    for seed in (0, 1, 2):  # better accuracy, worse macro F1
        write_seed(tmp_path / "full", seed, accuracy=0.95 + seed / 100, f1_macro=0.80 + seed / 100)
        write_seed(tmp_path / "lr", seed, accuracy=0.90 + seed / 100, f1_macro=0.85 + seed / 200)
    found = arms.of({**CONFIG, "arms": entries})
    by_metric, not_counted = arm_results.read_metrics(tmp_path, found, [0, 1, 2], CountRules(), "accuracy")
    assert by_metric["f1_macro"]["lr"] == pytest.approx({0: 0.85, 1: 0.855, 2: 0.86})
    assert (
        arm_results.read(tmp_path, found, [0, 1, 2], CountRules(), "accuracy")[0] == by_metric["accuracy"]
    )  # old callers

    def outcome(metric):
        config = {**CONFIG, "arms": entries, **criteria()}
        config["success_criteria"][0]["metric"] = metric
        return arm_results.summarize(
            found, by_metric["accuracy"], not_counted, ExperimentConfig.from_mapping(config), metric_values=by_metric
        )

    assert outcome("accuracy").outcome == "succeeded"
    on_f1 = outcome("f1_macro")
    mean, _, low, high = t_ci([0.80 - 0.85, 0.81 - 0.855, 0.82 - 0.86])
    assert on_f1.outcome == "failed" and on_f1.checks[0]["mean"] == pytest.approx(mean)
    assert on_f1.reasons[0].startswith(f"full vs lr: Δ {mean:+.4f} f1_macro")
    missing = outcome("recall_macro")
    assert missing.outcome == "inconclusive" and missing.checks[0]["verdict"] == "unknown"


def test_direction_lower_flips_what_counts_as_better():
    entries = [CONTROL, {"name": "lr", "role": "baseline"}]
    values = {"full": {0: 0.30, 1: 0.31, 2: 0.32}, "lr": {0: 0.40, 1: 0.42, 2: 0.41}}  # e.g. a loss
    assert summarize(entries, values, **criteria()).outcome == "failed"
    assert summarize(entries, values, **criteria(direction="lower")).outcome == "succeeded"


def test_min_relative_is_relative_to_the_baseline_arm_s_mean():
    entries = [CONTROL, {"name": "lr", "role": "baseline"}]
    values = {"full": {0: 0.819, 1: 0.820, 2: 0.821}, "lr": {0: 0.80, 1: 0.80, 2: 0.80}}  # Δ 0.02 = 2.5 % of 0.80
    holds = summarize(entries, values, **criteria(min_relative=0.02))  # needs Δ ≥ 0.016
    assert holds.outcome == "succeeded" and holds.checks[0]["need"] == pytest.approx(0.016)
    short = summarize(entries, values, **criteria(min_relative=0.03))  # needs Δ ≥ 0.024; the CI is far from 0
    assert short.outcome == "failed" and short.checks[0]["need"] == pytest.approx(0.024)
    both = summarize(entries, values, **criteria(min_relative=0.02, min_delta=0.03))  # the larger need counts
    assert both.outcome == "failed" and both.checks[0]["need"] == pytest.approx(0.03)


def test_a_threshold_is_judged_on_the_control_s_mean_and_reported_with_its_interval():
    entries = [CONTROL, {"name": "lr", "role": "baseline"}]
    values = {
        "full": {0: 0.90, 1: 0.91, 2: 0.92},
        "lr": {0: 0.99, 1: 0.99, 2: 0.99},
    }  # the baseline's numbers play no part
    mean, _, low, high = t_ci([0.90, 0.91, 0.92])
    met = summarize(entries, values, **criteria(threshold=0.85))
    assert met.outcome == "succeeded" and len(met.checks) == 1 and met.checks[0]["kind"] == "threshold"
    assert met.reasons[0] == (
        f"full accuracy mean {mean:.4f}, 95 % CI [{low:.4f}, {high:.4f}] over 3 seeds (needs ≥ 0.85): "
        "yes, the whole interval is on the success side"
    )
    # The interval reaches the threshold: the run cannot tell, on this path as on the single-arm one.
    straddled = summarize(entries, values, **criteria(threshold=0.915))
    assert straddled.outcome == "inconclusive" and straddled.checks[0]["verdict"] == "wide"
    assert summarize(entries, values, **criteria(threshold=0.95)).outcome == "failed"
    lower = summarize(entries, values, **criteria(threshold=0.95, direction="lower"))
    assert lower.outcome == "succeeded" and "(needs ≤ 0.95)" in lower.reasons[0]


def test_every_criterion_must_hold_and_any_confident_failure_fails():
    both = {"success_criteria": [{"metric": "accuracy", "min_delta": 0.0}, {"metric": "accuracy", "threshold": 0.99}]}
    found = summarize(TWO_BASELINES, VALUES, **both)
    assert [c["verdict"] for c in found.checks] == ["holds", "holds", "fails"] and found.outcome == "failed"
    wide_and_failing = {
        "success_criteria": [{"metric": "accuracy", "significance": 0.01}, {"metric": "accuracy", "threshold": 0.99}]
    }
    assert summarize(TWO_BASELINES, VALUES, **wide_and_failing).outcome == "failed"
    bad = summarize(TWO_BASELINES, VALUES, **criteria(significance=1.5))
    assert bad.outcome == "inconclusive" and "must lie between 0 and 1" in bad.reasons[0]
    assert "criterion 1 (accuracy): not judged" in arm_results.key_result(bad)


# ------------------------------------------------------------------ collect of a multi-arm run


def test_collect_of_arms_links_the_sweep_plot_carries_the_sweep_and_criteria_data_and_the_llm_note(
    example_wiki, monkeypatch
):
    pytest.importorskip("matplotlib")
    from exprun.core import config
    from exprun.core.paths import Paths
    from exprun.finish import collect, inspection
    from exprun.logs.monitor import Progress
    from exprun.machines.launchers.base import Backend, RunRecord, RunState, RunStatus

    slug = "digits-mlp-ablation"
    paths = Paths(slug, example_wiki)
    paths.page.write_text(paths.page.read_text().replace("status: planned", "status: running", 1))
    entries = [
        CONTROL,
        {"name": "lr", "role": "baseline"},
        *arms.expand_sweep({"hyperparameters.learning_rate": [0.001, 0.01, 0.1]}),
    ]
    numbers = {
        "full": 0.95,
        "lr": 0.90,
        "learning_rate=0.001": 0.85,
        "learning_rate=0.01": 0.96,
        "learning_rate=0.1": 0.70,
    }
    for arm, base in numbers.items():
        for seed in (0, 1, 2):
            write_seed(paths.results_dir / arm, seed, accuracy=base + seed / 100, f1_macro=base - 0.1 + seed / 100)
    cfg = {**CONFIG, "arms": entries, **criteria(min_delta=0.01)}
    asked = {}

    def paragraph(settings, hypothesis, results, analysis):
        asked.update(hypothesis=hypothesis, results=results)
        return "\n\n*LLM-written note (m):* the method wins.", ""

    monkeypatch.setattr(analysis_note, "paragraph", paragraph)
    record = RunRecord(
        slug,
        Backend.SCREEN,
        f"exp-{slug}",
        0,
        "2026-01-01T00:00:00+00:00",
        "here",
        "",
        [],
        ".",
        str(paths.log),
        str(paths.exit_status),
    )
    seen = inspection.Inspection(record, RunState(RunStatus.EXITED, 0), [], Progress(), [], None)
    paths.code_dir.mkdir(parents=True, exist_ok=True)
    (paths.code_dir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    page = pages.parse_page(paths.page.read_text(), paths.page)
    data = collect.finish(slug, config.parse({}), example_wiki, page, seen)
    sweep_png = paths.plot.with_name(f"{paths.plot.stem}_sweep.png")
    assert sweep_png.read_bytes().startswith(b"\x89PNG") and data["sweep_plot"] is True
    page = paths.page.read_text()
    assert f"]({sweep_png.relative_to(paths.page.parent).as_posix()})" in page
    assert "Best learning_rate = 0.01" in page and "the method wins." in page
    assert "Removing the hidden layer" in asked["hypothesis"] and "Sweep of learning_rate" in asked["results"]
    assert data["outcome"] == "succeeded" and data["analysis_llm"] == "added"
    assert data["criteria"][0]["reference"] == "lr" and data["criteria"][0]["verdict"] == "holds"
    collected = json.loads(paths.collected.read_text())
    assert collected["sweeps"][0]["best"]["value"] == 0.01 and collected["criteria"][0]["need"] == pytest.approx(0.01)
    assert "the method wins." in data["report"] and re.search(r"best learning_rate = 0\.01", data["key_result"])
    # one report writer: an arms run's RUN_REPORT has the single-arm run's shape, with its intervals and advice
    headings = [line for line in data["report"].splitlines() if line.startswith("#")]
    assert headings[1:] == ["## Outcome: succeeded", "## Results", "## Analysis", "## Key Finding", "## Next Steps"]
    assert "95 % CI" in data["report"] and "- Proceed to the next experiment in the plan" in data["report"]
