"""Runtime estimate at deploy: measured sanity throughput, else the sanity run's time per task (a lower bound),
else — only without any sanity measure — the /exp-run rule-of-thumb table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exprun.experiment.experiment_config import ExperimentConfig
from exprun.verdict import estimate
from exprun.wiki import pages

EXAMPLE_PAGES = Path(__file__).resolve().parents[2] / "examples" / "wiki" / "wiki" / "experiments"

DIGITS = {"shape": [1797, 65]}  # what the dataset check reports for sklearn digits


def run_config(epochs=20, batch_size=64, seeds=(0, 1, 2), test_size=0.2) -> dict:
    return {
        "dataset": {"name": "digits", "test_size": test_size},
        "seeds": list(seeds),
        "hyperparameters": {"epochs": epochs, "batch_size": batch_size, "learning_rate": 0.001},
    }


THROUGHPUT = [
    # id, seconds/step, dataset report, config → n_train expected
    ("digits-default-split", 2.0, DIGITS, run_config(), int(1797 * 0.8)),
    ("rows-report", 0.5, {"rows": 10_000}, run_config(epochs=3, batch_size=128), 8000),
    (
        "arrays-report",
        0.25,
        {"arrays": {"X": [50_000, 3, 32, 32]}},
        run_config(epochs=10, batch_size=256, seeds=(0, 1, 2, 3, 4)),
        40_000,
    ),
    ("custom-test-size", 1.0, {"rows": 1000}, run_config(epochs=5, batch_size=100, test_size=0.5), 500),
    ("batch-does-not-divide", 3.0, {"rows": 1250}, run_config(epochs=2, batch_size=96), 1000),
]


@pytest.mark.parametrize("per_step,report,cfg,n_train", [c[1:] for c in THROUGHPUT], ids=[c[0] for c in THROUGHPUT])
def test_estimate_from_sanity_throughput(per_step, report, cfg, n_train):
    hp = cfg["hyperparameters"]
    steps = hp["epochs"] * math.ceil(n_train / hp["batch_size"])
    expected = per_step * steps * len(cfg["seeds"]) / 3600

    found = estimate.estimate_run(
        {"seconds_per_step": per_step}, report, ExperimentConfig.from_mapping(cfg), {"hardware": "8x A100"}
    )
    hours, basis = found.hours, found.basis

    assert estimate.train_size(report, ExperimentConfig.from_mapping(cfg)) == n_train
    assert estimate.planned_steps(ExperimentConfig.from_mapping(cfg), n_train) == steps
    assert hours == pytest.approx(expected)
    assert basis.startswith("sanity throughput")
    assert f"{steps} steps" in basis and f"{len(cfg['seeds'])} seeds" in basis


def test_digits_numbers_worked_by_hand():
    # 1797 rows, 20 % held out → 1437 train; ceil(1437 / 64) = 23 batches; 20 epochs → 460 steps per seed
    found = estimate.estimate_run({"seconds_per_step": 2.0}, DIGITS, ExperimentConfig.from_mapping(run_config()), {})
    assert found.hours == pytest.approx(2760 / 3600)  # 2 s × 460 × 3 seeds = 2760 s
    assert found.basis == "sanity throughput 2 s/step × 460 steps × 3 seeds"
    assert (found.text, found.lower_bound) == ("~46 min", False)


def test_half_minute_run_is_estimated_in_seconds_not_whole_hours():
    """The issue: identical ~30 s runs were told "~24.0h" and "~1.5h" (the table, chosen by the page's words)."""
    sanity = {"seconds_per_step": 0.0217, "steps": 13, "train_wall_time_s": 0.28, "wall_time_s": 2.1}
    for setup in ({"hardware": "8x A100", "model": "LLaMA-2 7B"}, {"hardware": "1x GPU"}):
        found = estimate.estimate_run(sanity, DIGITS, ExperimentConfig.from_mapping(run_config()), setup)
        assert found.hours * 3600 == pytest.approx(0.0217 * 460 * 3)  # ≈ 30 s, whatever the setup text says
        assert found.text == "~30 s"


@pytest.mark.parametrize("seeds,parallel,rounds", [(4, 2, 2), (3, 3, 1), (3, 2, 2), (8, 4, 2), (5, 1, 5)])
def test_measure_times_steps_times_seeds_over_parallel(seeds, parallel, rounds):
    cfg = ExperimentConfig.from_mapping(run_config(seeds=range(seeds)))
    found = estimate.estimate_run({"seconds_per_step": 0.5}, DIGITS, cfg, {}, parallel)
    assert found.hours * 3600 == pytest.approx(0.5 * 460 * rounds)  # whole rounds of `parallel` tasks
    assert (f" ÷ {parallel} at a time" in found.basis) == (parallel > 1)


def test_arms_multiply_the_tasks():
    cfg = ExperimentConfig.from_mapping(
        {**run_config(seeds=(0, 1)), "arms": [{"name": "a", "role": "control"}, {"name": "b", "role": "ablation"}]}
    )
    found = estimate.estimate_run({"seconds_per_step": 1.0}, DIGITS, cfg, {}, parallel=2)
    assert found.hours * 3600 == pytest.approx(460 * 2)  # 4 tasks, 2 at a time
    assert "2 arms × 2 seeds ÷ 2 at a time" in found.basis


def test_each_arm_is_estimated_with_its_own_epochs():
    """A sweep over epochs [2, 20] runs 2 and 20 epochs: (2 + 20) / 2 = 11 times a 2-epoch run per seed, not
    twice it (every arm with the base config's epochs)."""
    from exprun.experiment.arms import expand_sweep

    base = ExperimentConfig.from_mapping(run_config(epochs=2, seeds=(0, 1)))
    sweep = ExperimentConfig.from_mapping(
        {**run_config(epochs=2, seeds=(0, 1)), "arms": expand_sweep({"hyperparameters.epochs": [2, 20]})}
    )
    one = estimate.estimate_run({"seconds_per_step": 1.0}, DIGITS, base, {})
    found = estimate.estimate_run({"seconds_per_step": 1.0}, DIGITS, sweep, {})
    assert found.hours == pytest.approx(one.hours * (2 + 20) / 2)  # 23 batches × (2 + 20) epochs × 2 seeds
    assert "46–460 steps by arm (506 per seed) × 2 arms × 2 seeds" in found.basis
    halved = estimate.estimate_run({"seconds_per_step": 1.0}, DIGITS, sweep, {}, parallel=2)
    assert halved.hours == pytest.approx(found.hours / 2)  # 4 tasks, 2 at a time: two rounds of the mean task


def test_an_arm_that_changes_the_batch_size_plans_its_own_steps():
    cfg = {
        **run_config(epochs=20, batch_size=64, seeds=(0,)),
        "arms": [
            {"name": "small", "role": "control"},
            {"name": "large", "role": "sweep", "overrides": {"hyperparameters": {"batch_size": 256}}},
        ],
    }
    found = estimate.estimate_run({"seconds_per_step": 1.0}, DIGITS, ExperimentConfig.from_mapping(cfg), {})
    assert found.hours * 3600 == pytest.approx(20 * 23 + 20 * 6)  # ⌈1437 / 64⌉ = 23, ⌈1437 / 256⌉ = 6 batches


def test_a_step_budget_in_the_hyperparameters_is_the_planned_steps():
    cfg = {"seeds": [0], "hyperparameters": {"max_steps": 5000, "learning_rate": 3e-4}}
    found = estimate.estimate_run({"seconds_per_step": 0.1}, {}, ExperimentConfig.from_mapping(cfg), {})
    assert found.hours * 3600 == pytest.approx(500) and "5000 steps" in found.basis
    both = run_config(seeds=(0,))
    both["hyperparameters"]["max_steps"] = 100  # fewer than 20 epochs × 23 batches: the run stops there
    assert estimate.planned_steps(ExperimentConfig.from_mapping(both), 1437) == 100


def test_tiny_estimate_is_not_rounded_away():
    found = estimate.estimate_run({"seconds_per_step": 0.0001}, DIGITS, ExperimentConfig.from_mapping(run_config()), {})
    assert found.hours > 0 and found.text == "~1 s"


def test_seeds_default_to_one_run():
    cfg = run_config()
    del cfg["seeds"]
    found = estimate.estimate_run({"seconds_per_step": 2.0}, DIGITS, ExperimentConfig.from_mapping(cfg), {})
    assert found.hours == pytest.approx(2.0 * 460 / 3600) and "× 1 seeds" in found.basis


SANITY_TIME_ONLY = [
    # id, sanity record, config: no planned steps or no per-step measure: the sanity run's time per task is a
    # lower bound
    ("no-dataset-size", {"seconds_per_step": 2.0, "train_wall_time_s": 30.0}, {}, run_config()),
    ("no-epochs", {"train_wall_time_s": 30.0}, DIGITS, {"seeds": [0, 1, 2], "hyperparameters": {"batch_size": 64}}),
    ("no-steps-measured", {"wall_time_s": 30.0, "status": "passed"}, DIGITS, run_config()),
]


@pytest.mark.parametrize("sanity,report,cfg", [c[1:] for c in SANITY_TIME_ONLY], ids=[c[0] for c in SANITY_TIME_ONLY])
def test_sanity_time_per_task_when_steps_are_unknown(sanity, report, cfg):
    found = estimate.estimate_run(
        sanity, report, ExperimentConfig.from_mapping(cfg), {"hardware": "4x A100", "model": "LLaMA-2 7B"}
    )
    assert found.hours * 3600 == pytest.approx(30.0 * 3) and found.lower_bound
    assert found.text == "at least 1.5 min" and "so the full run takes longer" in found.basis


def test_sanity_wall_time_is_shared_by_the_arms_it_ran():
    cfg = ExperimentConfig.from_mapping(
        {"seeds": [0], "arms": [{"name": "a", "role": "control"}, {"name": "b", "role": "ablation"}]}
    )
    found = estimate.estimate_run({"wall_time_s": 60.0}, {}, cfg, {})
    assert found.hours * 3600 == pytest.approx(60.0) and found.lower_bound  # 30 s per task × 2 tasks


FALLBACK_INPUTS = [
    # id, sanity, dataset report, config: no sanity measure at all (skipped, or an old sanity.json)
    ("no-sanity", {}, DIGITS, run_config()),
    ("sanity-without-measure", {"status": "passed"}, DIGITS, run_config()),
    ("zero-throughput-no-time", {"seconds_per_step": 0, "wall_time_s": 0}, DIGITS, run_config()),
    ("throughput-without-steps-or-time", {"seconds_per_step": 2.0}, {}, run_config()),
    ("not-a-number", {"seconds_per_step": "fast", "wall_time_s": None}, DIGITS, run_config()),
]


@pytest.mark.parametrize("sanity,report,cfg", [c[1:] for c in FALLBACK_INPUTS], ids=[c[0] for c in FALLBACK_INPUTS])
def test_without_a_sanity_measure_falls_back_to_rule_of_thumb(sanity, report, cfg):
    found = estimate.estimate_run(
        sanity, report, ExperimentConfig.from_mapping(cfg), {"hardware": "4x A100", "model": "LLaMA-2 7B"}
    )
    assert (found.hours, found.basis.startswith("rule of thumb (no sanity measure)")) == (24.0, True)
    assert found.text == "~24 h"


RULES_OF_THUMB = [
    # id, setup block of the page, hours (middle of the /exp-run table's range)
    (
        "single-gpu-small",
        {"model": "MLP", "dataset": "sklearn digits", "hardware": "1x GPU", "framework": "pytorch"},
        1.5,
    ),
    ("single-gpu-cifar", {"model": "ResNet-18", "dataset": "CIFAR-10", "hardware": "1x RTX 3090"}, 1.5),
    ("cpu-only", {"model": "logistic regression", "dataset": "iris", "hardware": "cpu"}, 1.5),
    ("empty-setup", {}, 1.5),
    ("imagenet", {"model": "ResNet-50", "dataset": "ImageNet-1k", "hardware": "1x GPU"}, 8.0),
    ("single-a100", {"model": "ViT-S", "dataset": "Places365", "hardware": "1x A100 80GB"}, 8.0),
    ("glue", {"model": "BERT-base", "dataset": "GLUE (all tasks)", "hardware": "1x GPU"}, 8.0),
    ("multi-gpu-count", {"model": "ResNet-50", "dataset": "ImageNet-1k", "hardware": "8x A100"}, 24.0),
    ("multi-gpu-words", {"model": "GPT-2 medium", "dataset": "OpenWebText", "hardware": "multi-GPU node"}, 24.0),
    ("times-sign", {"hardware": "4 × H100"}, 24.0),
    ("7b-fine-tuning", {"model": "Mistral 7B, LoRA fine-tuning", "dataset": "Alpaca", "hardware": "1x H100"}, 24.0),
    ("llama-13b", {"model": "LLaMA-2 13B", "hardware": "1x H200"}, 24.0),
    ("70b", {"model": "70B instruct model"}, 24.0),
]


@pytest.mark.parametrize("setup,hours", [c[1:] for c in RULES_OF_THUMB], ids=[c[0] for c in RULES_OF_THUMB])
def test_rule_of_thumb(setup, hours):
    found = estimate.estimate_run({}, {}, ExperimentConfig.from_mapping(run_config()), setup)
    assert found.hours == hours
    assert found.basis.startswith("rule of thumb")


def test_small_model_fine_tuning_on_one_gpu_is_not_a_large_model_run():
    setup = {"model": "fine-tune ResNet-18 (11M parameters)", "dataset": "CIFAR-10", "hardware": "1x GPU"}
    assert estimate.estimate_run({}, {}, ExperimentConfig.from_mapping(run_config()), setup).hours == 1.5


@pytest.mark.parametrize("slug,hours", [("digits-mlp-vs-logreg", 1.5), ("digits-cnn-gpu", 1.5)])
def test_example_pages_are_small_runs(slug, hours):
    page = pages.load_page(EXAMPLE_PAGES / f"{slug}.md")
    assert estimate.estimate_run({}, {}, ExperimentConfig.from_mapping(run_config()), page.get("setup")).hours == hours


def test_train_size_without_rows_is_unknown():
    assert estimate.train_size({"summary": "ok"}, ExperimentConfig.from_mapping(run_config())) is None
    assert estimate.planned_steps(ExperimentConfig.from_mapping(run_config()), None) is None


# ------------------------------------------------------------------ what the sanity run measures


def test_sanity_throughput_from_the_result_file():
    from exprun.prepare.sanity import seconds_per_step

    assert seconds_per_step({"steps": 13, "train_wall_time_s": 2.6, "steps_logged": 13}, 9.0) == pytest.approx(0.2)


def test_sanity_throughput_from_the_log_when_the_result_has_no_steps():
    """A program whose result file carries no `steps`: its log's `step=N/M` lines and the run's wall time."""
    from exprun.prepare.sanity import seconds_per_step

    assert seconds_per_step({"steps": 0, "steps_logged": 20}, 10.0) == pytest.approx(0.5)
    assert seconds_per_step({"steps_logged": 40}, 20.0) == pytest.approx(0.5)  # two arms' steps shared the time
    assert seconds_per_step({"steps_logged": None}, 10.0) is None


def test_sanity_records_the_steps_its_log_showed(tmp_path):
    from exprun.prepare import sanity

    result = tmp_path / "seed_0.json"
    result.write_text('{"seed": 0, "metrics": {"accuracy": 0.9}}')
    config = ExperimentConfig.from_mapping({"seeds": [0], "metrics": ["accuracy"], "progress": "steps"})
    _, facts = sanity._checks(0, "step=1/4\nstep=4/4 lr=0.1\n", result, None, config, "steps")
    assert facts["steps_logged"] == 4


def test_the_steps_of_every_arm_count_not_the_last_task_s():
    """A real shootout's sanity run: two arms trained 60 steps, a lookup arm logged step 1 last. The estimate
    divides the wall time by 121 steps, not by 1 (which made a 3-minute run '~44 h')."""
    from exprun.prepare import sanity

    log = [
        "=== task b3-flow:0 ===", "step=3/60 loss=1.0", "step=60/60 loss=0.2",
        "=== task b2-regression:0 ===", "step=60/60 loss=0.3",
        "=== task b1-pool-nn:0 ===", "step=1/60 loss=0.0",
    ]  # fmt: skip
    assert sanity.steps_ran(log) == 121
    assert sanity.steps_ran(["no progress here"]) is None


# ------------------------------------------------------------------ at the gate


def _gate_after_sanity(root, slug: str, seconds_per_step: float, **settings_changes):
    """The gate's checklist for `slug` after a sanity run that measured `seconds_per_step` on digits, with
    these settings; and the code folder's config."""
    import dataclasses
    import json

    from exprun.core import config as settings_file
    from exprun.core.paths import Paths
    from exprun.gate import approval as gate
    from exprun.prepare.codegen import generate

    settings = settings_file.load(root)
    generate.generate(slug, settings, root)
    paths = Paths(slug, root)
    paths.sanity.parent.mkdir(parents=True, exist_ok=True)
    paths.sanity.write_text(json.dumps({"status": "passed", "wall_time_s": 4.2, "seconds_per_step": seconds_per_step}))
    paths.dataset.write_text(json.dumps(DIGITS))
    text = gate.checklist(slug, dataclasses.replace(settings, **settings_changes), root, "headline")
    return text, _code_config(paths)


def test_the_gate_shows_the_estimate_from_the_sanity_measure(example_wiki):
    text, code_config = _gate_after_sanity(example_wiki, "digits-mlp-vs-logreg", 0.0217)
    sanity = {"status": "passed", "wall_time_s": 4.2, "seconds_per_step": 0.0217}
    found = estimate.estimate_run(sanity, DIGITS, ExperimentConfig.from_mapping(code_config), {})
    assert "  6. Sanity run  passed in 4 s; 0.0217 s/step" in text
    assert f"     Estimate    {found.text} (sanity throughput 0.0217 s/step × " in text
    assert "rule of thumb" not in text


def _gate_estimate(root, slug: str, **settings_changes) -> str:
    """The gate's Estimate line for `slug` after a sanity run that measured 0.5 s/step, with these settings."""
    text, _ = _gate_after_sanity(root, slug, 0.5, **settings_changes)
    return next(line for line in text.splitlines() if line.startswith("     Estimate"))


@pytest.mark.parametrize(
    "parallel,needs_gpus,gpus_each,free,tasks,at_once",
    [
        (2, True, 1, 8, 6, 2),  # parallel as set
        (5, False, 0, 0, 3, 3),  # never more than the tasks
        (0, False, 0, 8, 6, 1),  # no GPUs needed: one at a time
        (0, True, 1, 4, 6, 4),  # one per free GPU
        (0, True, 2, 5, 6, 2),  # one per free pair of GPUs
    ],
)
def test_tasks_at_once(parallel, needs_gpus, gpus_each, free, tasks, at_once):
    from exprun.prepare.gpu_plan import GpuPlan, tasks_at_once

    plan = GpuPlan(needs_gpus, gpus_each, "")
    assert tasks_at_once(parallel, plan, tasks, lambda: free) == at_once


def test_the_gate_divides_by_the_tasks_deploy_runs_at_once_not_more(example_wiki):
    """`parallel: 5` over 3 seeds runs 3 at once (deploy never starts more tasks than there are)."""
    line = _gate_estimate(example_wiki, "digits-mlp-vs-logreg", parallel=5)
    assert "× 3 seeds ÷ 3 at a time)" in line


def test_the_gate_says_which_parallelism_it_assumed_where_deploy_counts_free_gpus(example_wiki):
    """`parallel: 0` on a GPU page: deploy runs one task per free GPU of the deploy machine, which the gate cannot
    count; it estimates one at a time and says so rather than give a figure that silently differs."""
    line = _gate_estimate(example_wiki, "digits-cnn-gpu", parallel=0)
    assert line.endswith("; assuming 1 task at a time; deploy runs one per free GPU (`parallel: 0`))")
    assert "÷" not in line
    assert "assuming" not in _gate_estimate(example_wiki, "digits-cnn-gpu", parallel=2)


def test_the_gate_counts_a_slurm_array_one_task_at_a_time_as_deploy_does(example_wiki):
    line = _gate_estimate(example_wiki, "digits-mlp-vs-logreg", parallel=2, env="slurm")
    assert "÷" not in line and line.endswith("; counted 1 task at a time; the scheduler decides how many run at once)")


def _code_config(paths) -> dict:
    import yaml

    return yaml.safe_load((paths.code_dir / "config.yaml").read_text())
