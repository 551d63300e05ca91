"""Arms × seeds: the config, the tasks, the statistics (against scipy computed here, never a t table), the
ablation classes and the verdicts."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from scipy import stats

from exprun.core.errors import ConfigError
from exprun.experiment import arms
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.prepare.codegen.spec import build_spec
from exprun.verdict import arm_results, arm_stats
from exprun.wiki.pages import parse_page

CONFIG = {
    "seeds": [0, 1, 2],
    "metrics": ["accuracy"],
    "primary_metric": "accuracy",
    "higher_is_better": {"accuracy": True},
}


def config_with(*entries, **extra) -> dict:
    return {**CONFIG, "arms": list(entries), **extra}


# ------------------------------------------------------------------ config and tasks


def test_a_config_without_arms_is_one_arm_with_plain_seed_tasks():
    found = arms.of(CONFIG)
    assert arms.is_single(found) and arms.tasks(found, [0, 1]) == ["0", "1"]


def test_arms_expand_to_arm_seed_tasks_in_arm_order():
    found = arms.of(config_with({"name": "full", "role": "control"}, {"name": "no-wd", "role": "ablation"}))
    assert arms.tasks(found, [0, 1]) == ["full:0", "full:1", "no-wd:0", "no-wd:1"]


@pytest.mark.parametrize(
    "entries,phrase",
    [
        ([{"name": "a b"}], "letters, digits"),
        ([{"name": "full\n"}], "letters, digits"),  # `$` alone accepts a trailing newline; names are matched whole
        ([{"name": "x", "role": "winner"}], "must be one of control"),
        ([{"name": "x"}, {"name": "x", "role": "ablation"}], "two arms are named 'x'"),
        ([{"name": "x", "role": "ablation"}], "need a control arm"),
        ([{"name": "c"}, {"name": "d"}], "more than one arm has role control"),
        ([{"name": "c"}, {"name": "a", "role": "ablation", "expect": "vital"}], "must be one of ESSENTIAL"),
    ],
)
def test_bad_arms_are_one_line_naming_the_field(entries, phrase):
    with pytest.raises(ConfigError, match=phrase) as caught:
        arms.of(config_with(*entries))
    assert "\n" not in str(caught.value) and str(caught.value).startswith("config.yaml: ")


def test_a_sweep_grid_expands_into_named_arms():
    grid = arms.expand_sweep({"hyperparameters.learning_rate": [0.001, 0.01], "hyperparameters.batch_size": [32]})
    assert [a["name"] for a in grid] == ["learning_rate=0.001+batch_size=32", "learning_rate=0.01+batch_size=32"]
    assert grid[1]["overrides"] == {"hyperparameters": {"learning_rate": 0.01, "batch_size": 32}}
    assert all(arms.ARM_NAME.match(a["name"]) for a in arms.expand_sweep({"model.hidden_sizes": [[32, 16]]}))


def test_the_page_s_ablation_and_sweep_lines_become_arms(tmp_path):
    body = textwrap.dedent("""\
        ## Setup

        - Ablation: without hidden layer (expect essential or contributing)
        - Ablation: without dropout
        - Sweep: learning_rate in [0.0003, 0.001]
        """)
    text = (
        '---\ntitle: "t"\nslug: "t"\nstatus: planned\nsetup: {framework: sklearn, dataset: digits, hardware: cpu}\n'
        'metrics: [accuracy]\nbaseline: "the full model"\n---\n\n' + body
    )
    spec = build_spec(parse_page(text, Path("wiki/experiments/t.md")))
    declared = spec.config["arms"]
    assert [(a["name"], a["role"]) for a in declared] == [
        ("full", "control"),
        ("no-hidden-layer", "ablation"),
        ("learning_rate=0.0003", "sweep"),
        ("learning_rate=0.001", "sweep"),
    ]
    assert declared[1]["expect"] == ["ESSENTIAL", "CONTRIBUTING"]
    assert declared[1]["overrides"] == {"model": {"hidden_sizes": []}}
    assert any("ablation 'dropout' has no override in the built-in recipe" in n for n in spec.notes)
    assert spec.config["baseline"]["name"] == "control_arm"
    arms.of(spec.config)  # what the generator writes is valid


# ------------------------------------------------------------------ statistics


def scipy_interval(values):
    values = np.asarray(values, dtype=float)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return values.mean(), values.std(ddof=1), low, high


@pytest.mark.parametrize("values", [[0.9722, 0.9806, 0.9750], [0.5, 0.7], [1.0, 2.0, 4.0, 8.0, 16.0]])
def test_interval_is_the_t_interval_scipy_gives(values):
    found = arm_stats.interval(values)
    mean, std, low, high = scipy_interval(values)
    assert (found.mean, found.std, found.low, found.high) == pytest.approx((mean, std, low, high), rel=1e-12)
    assert (found.wide_note != "") == (len(values) == 2)


def test_one_seed_has_no_interval():
    found = arm_stats.interval([0.9])
    assert (found.n, found.low, found.high, found.wide_note) == (1, None, None, "no interval from one seed")


def test_paired_difference_uses_the_shared_seeds_only():
    arm = {0: 0.80, 1: 0.82, 2: 0.81, 3: float("nan")}
    control = {0: 0.90, 1: 0.91, 2: 0.93, 3: 0.92, 4: 0.95}
    found = arm_stats.paired("ablated", arm, "full", control)
    assert found.seeds == [0, 1, 2]
    mean, std, low, high = scipy_interval([-0.10, -0.09, -0.12])
    assert (found.delta.mean, found.delta.low, found.delta.high) == pytest.approx((mean, low, high))
    assert found.relative == pytest.approx(mean / np.mean([0.90, 0.91, 0.93]))


@pytest.mark.parametrize(
    "ablated,expected",
    [
        ([0.80, 0.81, 0.79], "ESSENTIAL"),  # −11 % of the control
        ([0.85, 0.86, 0.84], "CONTRIBUTING"),  # −5.6 %
        ([0.895, 0.905, 0.89], "MARGINAL"),  # −0.6 %
        ([0.93, 0.94, 0.935], "HARMFUL"),  # better without it, interval above 0
        ([0.91, 0.89, 0.905], "MARGINAL"),  # better on average but the interval spans 0
    ],
)
def test_a_known_ablation_classifies_as_the_page_expects(ablated, expected):
    control = {0: 0.90, 1: 0.90, 2: 0.90}
    diff = arm_stats.paired("x", dict(enumerate(ablated)), "full", control)
    assert arm_stats.classify(diff, higher_is_better=True) == expected


def test_lower_is_better_flips_the_classes():
    control = {0: 1.0, 1: 1.0, 2: 1.0}
    worse = arm_stats.paired("x", {0: 1.2, 1: 1.21, 2: 1.19}, "full", control)  # loss up 20 %
    assert arm_stats.classify(worse, higher_is_better=False) == "ESSENTIAL"


# ------------------------------------------------------------------ verdicts


def verdict(entries, values, **extra):
    found = arms.of(config_with(*entries, **extra))
    not_counted = {a.name: {} for a in found}
    return arm_results.summarize(
        found, values, not_counted, ExperimentConfig.from_mapping(config_with(*entries, **extra))
    )


def test_the_method_against_baselines_uses_the_interval_of_the_paired_difference():
    entries = ({"name": "ours", "role": "control"}, {"name": "lr", "role": "baseline"})
    clear = verdict(entries, {"ours": {0: 0.95, 1: 0.96, 2: 0.955}, "lr": {0: 0.90, 1: 0.91, 2: 0.905}})
    assert clear.outcome == "succeeded" and clear.reasons[0].startswith("ours vs lr: Δ +0.0500")
    noisy = verdict(entries, {"ours": {0: 0.95, 1: 0.86, 2: 0.955}, "lr": {0: 0.90, 1: 0.91, 2: 0.905}})
    assert noisy.outcome == "inconclusive" and "straddles what the criterion asks" in noisy.reasons[0]
    worse = verdict(entries, {"ours": {0: 0.85, 1: 0.86, 2: 0.855}, "lr": {0: 0.90, 1: 0.91, 2: 0.905}})
    assert worse.outcome == "failed"
    one_seed = verdict(entries, {"ours": {0: 0.95}, "lr": {0: 0.90}})
    assert one_seed.outcome == "inconclusive" and "fewer than 2 paired seeds" in one_seed.reasons[0]


def test_an_ablation_verdict_follows_the_page_s_expectations():
    control = {"name": "full", "role": "control"}
    essential = {"name": "no-hidden", "role": "ablation", "factor": "hidden layer", "expect": ["essential"]}
    values = {"full": {0: 0.95, 1: 0.955, 2: 0.952}, "no-hidden": {0: 0.81, 1: 0.815, 2: 0.812}}
    assert verdict([control, essential], values).outcome == "succeeded"
    wrong = {**essential, "expect": ["marginal"]}
    assert verdict([control, wrong], values).outcome == "failed"
    silent = {k: v for k, v in essential.items() if k != "expect"}
    found = verdict([control, silent], values)
    assert found.outcome == "inconclusive" and "classification table is the result" in found.reasons[-1]
    straddling = {"full": {0: 0.95, 1: 0.95, 2: 0.95}, "no-hidden": {0: 0.90, 1: 0.85, 2: 0.87}}  # −6 % ± a lot
    found = verdict([control, {**essential, "expect": ["contributing"]}], straddling)
    assert found.outcome == "inconclusive" and "crosses a class boundary" in found.reasons[0]


def test_the_results_section_carries_the_arm_table_and_the_classes():
    control = {"name": "full", "role": "control"}
    ablated = {"name": "no-hidden", "role": "ablation", "factor": "hidden layer"}
    found = verdict([control, ablated], {"full": {0: 0.95, 1: 0.96, 2: 0.955}, "no-hidden": {0: 0.81, 1: 0.82}})
    text = arm_results.results_section(found)
    mean, std, low, high = scipy_interval([0.95, 0.96, 0.955])
    assert f"| full | control | {mean:.4f} ± {std:.4f} | [{low:.4f}, {high:.4f}] | 3 |" in text
    assert "| hidden layer | no-hidden |" in text and "ESSENTIAL" in text
    assert "only 2 seeds: the interval is wide" in text
    assert "- no-hidden: seed 2 not counted — no result file" not in text  # not_counted given empty here
    assert math.isclose(found.intervals["no-hidden"].mean, 0.815)


def test_factor_names_keep_their_first_letters_and_a_repeated_line_is_one_arm():
    body = (
        "## Setup\n\n- Ablation: nonlinearity (expect essential)\n- Ablation: without weight decay\n\n"
        "## Procedure\n\n- Ablation: without weight decay\n"
    )
    text = (
        '---\ntitle: "t"\nslug: "t"\nstatus: planned\nsetup: {framework: sklearn, dataset: digits, hardware: cpu}\n'
        'metrics: [accuracy]\nbaseline: "the full model"\n---\n\n' + body
    )
    spec = build_spec(parse_page(text, Path("wiki/experiments/t.md")))
    assert [a["name"] for a in spec.config["arms"]] == ["full", "no-nonlinearity", "no-weight-decay"]
    assert spec.config["arms"][1]["factor"] == "nonlinearity"


def test_a_seed_job_runs_only_a_task_of_its_run(example_wiki):
    """Attack: full_via: jobs, then a job for an arm (or seed) the approved run does not have — a hand-typed
    `exprun rule run-seed --arm ghost` — must not start anything."""
    from exprun.core import config
    from exprun.core.errors import LaunchError
    from exprun.core.paths import Paths
    from exprun.gate import approval as gate
    from exprun.machines.launchers.base import Backend, RunRecord
    from exprun.prepare.codegen import generate
    from exprun.run import deploy
    from exprun.run.jobs_backend import SeedJobs

    slug = "digits-mlp-ablation"
    generate.generate(slug, config.parse({}), example_wiki)
    gate.approve(slug, example_wiki)
    deploy.deploy(slug, config.parse({}), example_wiki, backend=Backend.JOBS, skip_sanity=True)
    record = RunRecord.load(Paths(slug, example_wiki).run)
    assert SeedJobs.tasks_of(record) == [
        f"{arm}:{seed}" for arm in ("full", "no-hidden-layer", "no-weight-decay") for seed in (0, 1, 2)
    ]
    with mock.patch.dict(os.environ):  # a job sets its task in its own (about to exec) environment
        argv = deploy.run_seed_job(slug, "1", example_wiki, "no-weight-decay")
        assert os.environ["EXPRUN_TASKS"] == "no-weight-decay:1"
    assert record.snapshot == f"snapshots/{record.approved_hash[:16]}/{slug}"
    assert argv[-2:] == ["bash", f"{record.snapshot}/run.sh"], "the job runs the approved snapshot, not the live folder"
    for arm, seed in (("ghost", "0"), ("full", "7"), ("", "0")):
        with pytest.raises(LaunchError, match="is not one of this run's"), mock.patch.dict(os.environ):
            deploy.run_seed_job(slug, seed, example_wiki, arm)
