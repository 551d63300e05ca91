"""Runtime estimate at deploy: measured sanity throughput, else the /exp-run rule-of-thumb table."""

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
    expected = round(per_step * steps * len(cfg["seeds"]) / 3600, 2)

    hours, basis = estimate.estimate_hours(
        {"seconds_per_step": per_step}, report, ExperimentConfig.from_mapping(cfg), {"hardware": "8x A100"}
    )

    assert estimate.train_size(report, ExperimentConfig.from_mapping(cfg)) == n_train
    assert estimate.planned_steps(ExperimentConfig.from_mapping(cfg), n_train) == steps
    assert hours == pytest.approx(expected)
    assert basis.startswith("sanity throughput")
    assert f"{steps} steps" in basis and f"{len(cfg['seeds'])} seeds" in basis


def test_digits_numbers_worked_by_hand():
    # 1797 rows, 20 % held out → 1437 train; ceil(1437 / 64) = 23 batches; 20 epochs → 460 steps per seed
    hours, basis = estimate.estimate_hours(
        {"seconds_per_step": 2.0}, DIGITS, ExperimentConfig.from_mapping(run_config()), {}
    )
    assert hours == 0.77  # 2 s × 460 × 3 seeds = 2760 s
    assert basis == "sanity throughput 2.0000 s/step × 460 steps × 3 seeds"


def test_tiny_estimate_never_rounds_to_zero():
    hours, _ = estimate.estimate_hours(
        {"seconds_per_step": 0.0001}, DIGITS, ExperimentConfig.from_mapping(run_config()), {}
    )
    assert hours == 0.01


def test_seeds_default_to_one_run():
    cfg = run_config()
    del cfg["seeds"]
    hours, basis = estimate.estimate_hours({"seconds_per_step": 2.0}, DIGITS, ExperimentConfig.from_mapping(cfg), {})
    assert hours == round(2.0 * 460 / 3600, 2) and "× 1 seeds" in basis


FALLBACK_INPUTS = [
    # id, sanity, dataset report, config: each lacks something the throughput needs
    ("no-sanity", {}, DIGITS, run_config()),
    ("sanity-without-throughput", {"status": "passed"}, DIGITS, run_config()),
    ("zero-throughput", {"seconds_per_step": 0}, DIGITS, run_config()),
    ("no-dataset-report", {"seconds_per_step": 2.0}, {}, run_config()),
    ("no-epochs", {"seconds_per_step": 2.0}, DIGITS, {"seeds": [0], "hyperparameters": {"batch_size": 64}}),
    ("no-batch-size", {"seconds_per_step": 2.0}, DIGITS, {"seeds": [0], "hyperparameters": {"epochs": 3}}),
]


@pytest.mark.parametrize("sanity,report,cfg", [c[1:] for c in FALLBACK_INPUTS], ids=[c[0] for c in FALLBACK_INPUTS])
def test_without_throughput_falls_back_to_rule_of_thumb(sanity, report, cfg):
    hours, basis = estimate.estimate_hours(
        sanity, report, ExperimentConfig.from_mapping(cfg), {"hardware": "4x A100", "model": "LLaMA-2 7B"}
    )
    assert (hours, basis.startswith("rule of thumb")) == (24.0, True)


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
    got, basis = estimate.estimate_hours({}, {}, ExperimentConfig.from_mapping(run_config()), setup)
    assert got == hours
    assert basis.startswith("rule of thumb")


def test_small_model_fine_tuning_on_one_gpu_is_not_a_large_model_run():
    setup = {"model": "fine-tune ResNet-18 (11M parameters)", "dataset": "CIFAR-10", "hardware": "1x GPU"}
    assert estimate.estimate_hours({}, {}, ExperimentConfig.from_mapping(run_config()), setup)[0] == 1.5


@pytest.mark.parametrize("slug,hours", [("digits-mlp-vs-logreg", 1.5), ("digits-cnn-gpu", 1.5)])
def test_example_pages_are_small_runs(slug, hours):
    page = pages.load_page(EXAMPLE_PAGES / f"{slug}.md")
    assert estimate.estimate_hours({}, {}, ExperimentConfig.from_mapping(run_config()), page.get("setup"))[0] == hours


def test_train_size_without_rows_is_unknown():
    assert estimate.train_size({"summary": "ok"}, ExperimentConfig.from_mapping(run_config())) is None
    assert estimate.planned_steps(ExperimentConfig.from_mapping(run_config()), None) is None
