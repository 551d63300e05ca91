"""End-to-end checks of the generated-experiment templates.

Each test lays out a wiki root in tmp_path the way exprun does (common/*.py plus
the recipe's files plus config.yaml in experiments/code/<slug>/) and runs
train.py as a real subprocess from that root, then checks what it printed and wrote.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from exprun.prepare.codegen.generate import TEMPLATES

pytestmark = pytest.mark.slow  # each test trains a recipe in a subprocess

SLUG = "demo-digits-mlp"
CODE_DIR = Path("experiments", "code", SLUG)
RESULT = Path("results", SLUG, "seed_0.json")

STEP_RE = re.compile(r"step=(\d+)/(\d+) epoch=(\d+) loss=(-?\d+\.\d{4}|nan|-?inf) lr=(\S+)")
EVAL_RE = re.compile(r"eval epoch=(\d+) (.+)")
KNOWN_LINES = re.compile(
    r"device=(cpu|cuda:\d+ \(.+\))|baseline .+|step=.+|eval .+|done seed=\d+ .+"
    r"|gpu_peak_mib=\d+|resumed seed=\d+ from step=\d+|no checkpoint at .+|ignoring .+"
    r"|not saving checkpoint: loss=(nan|inf|-inf) .+"
)


def base_config(framework: str) -> dict:
    return {
        "slug": SLUG,
        "framework": framework,
        "task": "classification",
        "dataset": {"name": "digits", "path": "", "target_column": "target", "test_size": 0.2},
        "model": {"name": "mlp", "hidden_sizes": [64]},
        "baseline": {"name": "logistic_regression"},
        "hyperparameters": {
            "learning_rate": 0.001,
            "batch_size": 64,
            "epochs": 20,
            "weight_decay": 0.0001,
            "log_every": 10,
        },
        "seeds": [0, 1, 2],
        "metrics": ["accuracy", "f1_macro"],
        "primary_metric": "accuracy",
        "sanity": {"epochs": 1, "max_steps": 100, "subset": 256},
        "paths": {"results_dir": f"results/{SLUG}", "checkpoint_dir": f"checkpoints/{SLUG}"},
    }


def make_experiment(root: Path, framework: str, cfg: dict | None = None) -> Path:
    """Copy the shared files and the recipe's files plus a config.yaml under root, as exprun does."""
    folder = root / CODE_DIR
    folder.mkdir(parents=True)
    for source in ("common", framework):
        for file in (TEMPLATES / source).glob("*.py"):
            shutil.copy(file, folder)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg or base_config(framework), sort_keys=False))
    return folder


def run_train(root: Path, *args: str, expect_rc: int = 0, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(CODE_DIR / "train.py"), "--seed", "0", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        # Tiny models train faster on one thread, and the tests then do not fight over the cores.
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )
    assert proc.returncode == expect_rc, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def parse_scores(text: str) -> dict[str, float]:
    return {name: float(value) for name, value in (pair.split("=") for pair in text.split())}


def step_lines(stdout: str) -> list[tuple[int, int, int, str, str]]:
    matches = [STEP_RE.fullmatch(line) for line in stdout.splitlines() if line.startswith("step=")]
    assert all(matches), stdout
    return [(int(m[1]), int(m[2]), int(m[3]), m[4], m[5]) for m in matches]


def eval_lines(stdout: str) -> list[tuple[int, dict[str, float]]]:
    matches = [EVAL_RE.fullmatch(line) for line in stdout.splitlines() if line.startswith("eval ")]
    return [(int(m[1]), parse_scores(m[2])) for m in matches]


def prefixed(stdout: str, prefix: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(prefix)]


def read_result(root: Path, path: Path = RESULT, *, baseline: bool = True) -> dict:
    """Load a results JSON and check the parts of its shape that every run shares."""
    result = json.loads((root / path).read_text())
    keys = {
        "slug",
        "seed",
        "metrics",
        "steps",
        "wall_time_s",
        "config_hash",
        "sanity",
        "overrides",
        "run_id",
        "code_hash",
    }
    assert set(result) == keys | ({"baseline_metrics"} if baseline else set())
    assert result["slug"] == SLUG and result["seed"] == 0
    config_bytes = (root / CODE_DIR / "config.yaml").read_bytes()
    assert result["config_hash"] == hashlib.sha256(config_bytes).hexdigest()
    assert isinstance(result["steps"], int) and isinstance(result["wall_time_s"], float)
    return result


def assert_clean_stdout(stdout: str) -> None:
    """Every line is one the pipeline knows how to read."""
    unknown = [line for line in stdout.splitlines() if not KNOWN_LINES.fullmatch(line)]
    assert not unknown, unknown


def assert_no_temp_files(*folders: Path) -> None:
    assert not [p for folder in folders for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- sklearn recipe


@pytest.fixture(scope="module")
def sklearn_sanity(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One sanity run with torch made unimportable, shared by the tests that inspect it."""
    root = tmp_path_factory.mktemp("sanity")
    cfg = base_config("sklearn")
    cfg["sanity"] = {"epochs": 1, "max_steps": 3, "subset": 256}
    cfg["hyperparameters"]["log_every"] = 2
    make_experiment(root, "sklearn", cfg)
    blocker = tmp_path_factory.mktemp("no_torch")
    (blocker / "torch.py").write_text("raise ImportError('the sklearn recipe must not import torch')\n")
    return root, run_train(root, "--sanity", env={"PYTHONPATH": str(blocker)})


def test_sklearn_sanity_run_writes_results_and_checkpoint_without_torch(sklearn_sanity):
    root, proc = sklearn_sanity
    assert_clean_stdout(proc.stdout)
    # subset 256 / batch 64 = 4 steps per epoch, capped by max_steps=3; log at 2 and at the last step.
    assert [line[:3] for line in step_lines(proc.stdout)] == [(2, 3, 1), (3, 3, 1)]
    assert {line[4] for line in step_lines(proc.stdout)} == {"0.001"}
    assert [epoch for epoch, _ in eval_lines(proc.stdout)] == [1]
    assert len(prefixed(proc.stdout, "baseline accuracy=")) == 1
    assert proc.stdout.splitlines()[-1].startswith("done seed=0 accuracy=")

    result = read_result(root)
    assert result["sanity"] is True and result["steps"] == 3 and result["overrides"] == {}
    assert set(result["metrics"]) == set(result["baseline_metrics"]) == {"accuracy", "f1_macro"}
    assert result["baseline_metrics"]["accuracy"] > 0.8
    assert (root / "checkpoints" / SLUG / "seed_0.pkl").is_file()
    assert_no_temp_files(root / "checkpoints" / SLUG, root / "results" / SLUG)


def test_full_run_does_not_resume_from_a_sanity_checkpoint(sklearn_sanity, tmp_path):
    root = tmp_path / "wiki"
    shutil.copytree(sklearn_sanity[0], root)
    proc = run_train(root, "--resume", "--epochs", "1")
    assert "resumed" not in proc.stdout
    assert len(prefixed(proc.stdout, "ignoring checkpoints")) == 1
    assert read_result(root)["steps"] == 23  # a whole fresh epoch of 1437 examples / 64


def test_sklearn_full_digits_run_learns_within_seconds(tmp_path):
    make_experiment(tmp_path, "sklearn")
    proc = run_train(tmp_path)
    assert_clean_stdout(proc.stdout)
    steps = step_lines(proc.stdout)
    # 1437 training examples / 64 = 23 steps per epoch, 20 epochs; a line every 10 steps.
    assert [s[0] for s in steps] == [*range(10, 460, 10), 460]
    assert {s[1] for s in steps} == {460}
    assert [s[2] for s in steps][:3] == [1, 1, 2]
    assert [epoch for epoch, _ in eval_lines(proc.stdout)] == list(range(1, 21))

    result = read_result(tmp_path)
    assert result["sanity"] is False and result["steps"] == 460
    assert result["metrics"]["accuracy"] > 0.93
    assert result["wall_time_s"] < 20
    done = parse_scores(proc.stdout.splitlines()[-1].removeprefix("done seed=0 "))
    assert done == {name: round(value, 4) for name, value in result["metrics"].items()}


@pytest.fixture(scope="module")
def sklearn_two_epochs(tmp_path_factory) -> Path:
    """A wiki root whose seed-0 checkpoint holds the end of epoch 2 (46 steps)."""
    root = tmp_path_factory.mktemp("two_epochs")
    make_experiment(root, "sklearn")
    run_train(root, "--epochs", "2")
    return root


def test_sklearn_resume_continues_exactly_where_it_stopped(sklearn_two_epochs, tmp_path):
    root = tmp_path / "wiki"
    shutil.copytree(sklearn_two_epochs, root)
    resumed = run_train(root, "--resume", "--epochs", "3")
    assert prefixed(resumed.stdout, "resumed") == ["resumed seed=0 from step=46"]
    assert [s[:3] for s in step_lines(resumed.stdout)] == [(50, 69, 3), (60, 69, 3), (69, 69, 3)]
    result = read_result(root)
    assert result["steps"] == 69 and result["overrides"] == {"epochs": 3}

    straight = run_train(root, "--epochs", "3", "--results-dir", "straight", "--checkpoint-dir", "straight")
    assert "resumed" not in straight.stdout
    assert read_result(root, Path("straight", "seed_0.json"))["metrics"] == result["metrics"]


def test_sklearn_resume_applies_lr_and_batch_size_overrides(sklearn_two_epochs, tmp_path):
    root = tmp_path / "wiki"
    shutil.copytree(sklearn_two_epochs, root)
    proc = run_train(root, "--resume", "--epochs", "3", "--lr", "0.0005", "--batch-size", "32", "--log-every", "100")
    # 46 steps done, then one epoch of 1437 / 32 = 45 steps.
    assert [(step, total, epoch, lr) for step, total, epoch, _, lr in step_lines(proc.stdout)] == [
        (91, 91, 3, "0.0005")
    ]
    assert read_result(root)["overrides"] == {"lr": 0.0005, "batch_size": 32, "epochs": 3, "log_every": 100}
    with open(root / "checkpoints" / SLUG / "seed_0.pkl", "rb") as file:
        checkpoint = pickle.load(file)
    assert (checkpoint["step"], checkpoint["epoch"]) == (91, 3)
    assert checkpoint["model"].learning_rate_init == 0.0005
    assert checkpoint["model"]._optimizer.learning_rate_init == 0.0005


def test_cli_overrides_win_and_are_recorded(tmp_path):
    make_experiment(tmp_path, "sklearn")
    proc = run_train(
        tmp_path,
        *("--batch-size", "32", "--epochs", "1", "--log-every", "7", "--weight-decay", "0.001"),
        *("--results-dir", "out", "--checkpoint-dir", "ckpt"),
    )
    assert [s[0] for s in step_lines(proc.stdout)] == [7, 14, 21, 28, 35, 42, 45]
    result = read_result(tmp_path, Path("out", "seed_0.json"))
    assert result["steps"] == 45
    assert result["overrides"] == {
        "batch_size": 32,
        "epochs": 1,
        "weight_decay": 0.001,
        "log_every": 7,
        "results_dir": "out",
        "checkpoint_dir": "ckpt",
    }
    assert (tmp_path / "ckpt" / "seed_0.pkl").is_file()
    assert not (tmp_path / "results").exists() and not (tmp_path / "checkpoints").exists()


def test_sklearn_regression_reports_regression_metrics(tmp_path):
    cfg = base_config("sklearn")
    cfg.update(task="regression", metrics=["mse", "rmse", "mae", "r2"], primary_metric="r2")
    cfg["dataset"]["name"] = "diabetes"
    cfg["baseline"]["name"] = "linear_regression"
    cfg["hyperparameters"].update(epochs=10, learning_rate=0.01)
    make_experiment(tmp_path, "sklearn", cfg)
    proc = run_train(tmp_path)
    result = read_result(tmp_path)
    baseline = result["baseline_metrics"]
    assert set(result["metrics"]) == set(baseline) == {"mse", "rmse", "mae", "r2"}
    assert 0.3 < baseline["r2"] < 0.7 and baseline["rmse"] == pytest.approx(math.sqrt(baseline["mse"]))
    # Targets are standardised for training but reported in the original units (diabetes spans 25..346).
    assert 30 < result["metrics"]["mae"] < 80 and result["metrics"]["r2"] > 0.2
    assert prefixed(proc.stdout, "baseline ")[0].startswith("baseline mse=")


def test_csv_dataset_with_text_labels_and_probability_metrics(tmp_path):
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.assign(target=np.where(bunch.target == 1, "benign", "malignant"))
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "cancer.csv", index=False)
    cfg = base_config("sklearn")
    cfg["dataset"].update(name="", path="data/cancer.csv")
    cfg["metrics"] = ["accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "log_loss"]
    make_experiment(tmp_path, "sklearn", cfg)
    proc = run_train(tmp_path, "--sanity")
    result = read_result(tmp_path)
    assert list(result["metrics"]) == cfg["metrics"]
    assert result["baseline_metrics"]["roc_auc"] > 0.95
    assert all(math.isfinite(value) for value in result["metrics"].values())
    assert parse_scores(prefixed(proc.stdout, "eval epoch=1 ")[0].removeprefix("eval epoch=1 ")).keys() == set(
        cfg["metrics"]
    )


def test_npz_dataset_without_baseline(tmp_path):
    X, y = load_iris(return_X_y=True)
    np.savez(tmp_path / "iris.npz", X=X, y=y)
    cfg = base_config("sklearn")
    cfg["dataset"].update(name="", path="iris.npz")
    cfg["baseline"]["name"] = "none"
    make_experiment(tmp_path, "sklearn", cfg)
    proc = run_train(tmp_path, "--sanity")
    assert not prefixed(proc.stdout, "baseline")
    result = read_result(tmp_path, baseline=False)
    assert result["steps"] == 2  # 120 training examples / 64


def test_missing_dataset_exits_2_with_one_line_error(tmp_path):
    cfg = base_config("sklearn")
    cfg["dataset"].update(name="", path="data/absent.csv")
    make_experiment(tmp_path, "sklearn", cfg)
    proc = run_train(tmp_path, "--sanity", expect_rc=2)
    assert proc.stderr.splitlines() == [
        f"dataset not found: data/absent.csv (set dataset.path in experiments/code/{SLUG}/config.yaml)"
    ]
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------- generic recipe


def test_generic_sanity_fails_asking_for_load_data(tmp_path):
    make_experiment(tmp_path, "generic")
    proc = run_train(tmp_path, "--sanity", expect_rc=1)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"NotImplementedError: generic recipe: write load_data(cfg) in experiments/code/{SLUG}/data.py "
        "to load dataset 'digits'"
    )


def test_generic_asks_for_build_model_once_data_loads(tmp_path):
    folder = make_experiment(tmp_path, "generic")
    (folder / "data.py").write_text("import utils\n\n\ndef load_data(cfg):\n    return utils.load_dataset(cfg)\n")
    proc = run_train(tmp_path, "--sanity", expect_rc=1)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"NotImplementedError: generic recipe: write build_model(cfg, dataset, run) in "
        f"experiments/code/{SLUG}/model.py to build model 'mlp'"
    )


# ---------------------------------------------------------------- pytorch recipe


@pytest.fixture(scope="module")
def torch():
    try:
        import torch
    except ImportError as err:  # any failure, not only a missing module: a broken install cannot run either
        pytest.skip(f"import torch failed ({err}); the pytorch recipe cannot run")
    return torch


def test_pytorch_run_stops_at_a_non_finite_loss_and_says_so(torch, tmp_path):
    X, y = load_diabetes(return_X_y=True)
    torch.save({"X": torch.tensor(X), "y": torch.tensor(y)}, tmp_path / "diabetes.pt")
    cfg = base_config("pytorch")
    cfg.update(task="regression", metrics=["mse", "r2"], primary_metric="r2")
    cfg["dataset"].update(name="", path="diabetes.pt")
    cfg["baseline"]["name"] = "linear_regression"
    make_experiment(tmp_path, "pytorch", cfg)
    # An absurd learning rate makes the loss overflow: the run logs the `loss=inf`/`loss=nan` line the monitor acts on
    # and stops (exit 3) instead of training on and writing numbers of a broken model.
    proc = run_train(tmp_path, "--sanity", "--lr", "1e12", "--log-every", "1", expect_rc=3)
    assert_clean_stdout(proc.stdout)
    assert re.fullmatch(r"device=(cpu|cuda:\d+ \(.+\))", proc.stdout.splitlines()[0])
    steps = step_lines(proc.stdout)
    assert steps and steps[-1][3] in ("nan", "inf") and all(s[3] not in ("nan", "inf") for s in steps[:-1])
    assert (
        f"diverged: loss={steps[-1][3]} at step {steps[-1][0]}" in proc.stderr
        and "lower the learning rate" in proc.stderr
    )
    assert not list((tmp_path / "results").rglob("seed_0.json")), "no result from a diverged run"
    # Non-finite weights are never checkpointed: a resume (the automatic fix) restarts from finite ones.
    assert not (tmp_path / "checkpoints" / SLUG / "seed_0.pt").exists()


def test_pytorch_cnn_learns_digits_and_resumes_with_new_lr(torch, tmp_path):
    cfg = base_config("pytorch")
    cfg["model"]["name"] = "cnn"
    cfg["hyperparameters"].update(learning_rate=0.003, log_every=20)
    make_experiment(tmp_path, "pytorch", cfg)
    run_train(tmp_path, "--epochs", "2", "--device", "cpu")
    proc = run_train(tmp_path, "--epochs", "3", "--device", "cpu", "--resume", "--lr", "0.0005")
    assert prefixed(proc.stdout, "resumed") == ["resumed seed=0 from step=46"]
    assert [(step, lr) for step, _, _, _, lr in step_lines(proc.stdout)] == [(60, "0.0005"), (69, "0.0005")]
    result = read_result(tmp_path)
    assert result["steps"] == 69 and result["metrics"]["accuracy"] > 0.9
    assert result["overrides"] == {"lr": 0.0005, "epochs": 3}

    checkpoint = torch.load(tmp_path / "checkpoints" / SLUG / "seed_0.pt", weights_only=True)
    assert (checkpoint["step"], checkpoint["epoch"]) == (69, 3)
    assert [group["lr"] for group in checkpoint["optimizer"]["param_groups"]] == [0.0005]
    # Adam's moment estimates carried over: every parameter has taken all 69 steps, not 23.
    assert {int(state["step"]) for state in checkpoint["optimizer"]["state"].values()} == {69}


def test_seed_file_carries_the_run_id_and_the_hash_exprun_approves(tmp_path):
    """collect counts a seed only with this run's id and the approved hash: the template must compute
    exactly integrity.folder_hash (links followed), else every seed would be excluded."""
    from exprun.trust import integrity

    folder = make_experiment(tmp_path, "sklearn")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "helpers.py").write_text("X = 1\n")
    (folder / "lib").symlink_to(tmp_path / "shared", target_is_directory=True)
    (folder / "CONTEXT.md").write_text("notes are not code\n")
    approved = integrity.folder_hash(folder)
    run_train(tmp_path, "--sanity", env={"EXPRUN_RUN_ID": "demo-digits-mlp-a3-cafe"})
    result = read_result(tmp_path)
    assert result["run_id"] == "demo-digits-mlp-a3-cafe"
    assert result["code_hash"] == approved


def test_sklearn_divergence_is_a_nan_loss_not_a_traceback(tmp_path):
    """sklearn refuses non-finite weights with a ValueError; the recipe reports it as the `loss=nan` line the
    monitor's one fix acts on, and stops."""
    make_experiment(tmp_path, "sklearn", base_config("sklearn"))
    proc = run_train(tmp_path, "--lr", "1e30", "--epochs", "1", "--log-every", "1", expect_rc=3)
    assert step_lines(proc.stdout)[-1][3] == "nan"
    assert "Traceback" not in proc.stderr and "diverged: loss=nan" in proc.stderr
