"""Helpers shared by every generated experiment: config, seeding, data, metrics, output.

This file is copied verbatim next to train.py, data.py and model.py so that the
experiment folder is self-contained. It must never import torch: recipes that
do not use torch stay importable without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import yaml
from sklearn import datasets as sk_datasets
from sklearn import metrics as sk_metrics
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, StandardScaler

# The train/test split does not depend on --seed, so every seed is evaluated on
# the same test examples and differences between seeds come from the model alone.
SPLIT_SEED = 0

TASKS = ("classification", "regression")
BUILTIN_DATASETS = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
BASELINES = {"classification": "logistic_regression", "regression": "linear_regression"}
# Baselines this recipe does not run: none at all, or the page's own whose numbers come from baseline_results.
NOT_RUN_BASELINES = ("none", "not_implemented", "control_arm")


class DatasetNotFoundError(Exception):
    """The configured dataset file is missing; train.py turns this into exit code 2."""


class Diverged(Exception):
    """The loss became NaN/inf: training stops (exit code 3) instead of writing results of a broken model."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Standardised train/test arrays.

    Classification labels are encoded as 0..n_classes-1. Regression targets are
    standardised too (target_mean/target_std) so that one learning rate suits
    any target scale; metrics are reported back in the original units.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int = 0  # 0 for regression
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def head(self, n: int) -> Dataset:
        """Keep the first n training examples (the split is already shuffled)."""
        return dataclasses.replace(self, X_train=self.X_train[:n], y_train=self.y_train[:n])

    def to_target_units(self, y: np.ndarray) -> np.ndarray:
        """Undo the target standardisation, in float64 so metrics are not rounded to float32."""
        return np.asarray(y, dtype=np.float64) * self.target_std + self.target_mean


@dataclasses.dataclass(frozen=True)
class Run:
    """Effective settings of one run: config, then sanity limits, then CLI overrides (train.resolve_run)."""

    seed: int
    sanity: bool
    device: str  # auto | cpu | cuda; only the pytorch recipe uses a GPU
    lr: float
    batch_size: int
    epochs: int
    weight_decay: float
    log_every: int
    max_steps: int | None
    train_subset: int | None
    results_dir: Path
    checkpoint_dir: Path
    overrides: dict


class Learner(Protocol):
    """What train.py needs from the object that model.build_model returns."""

    checkpoint_suffix: str  # e.g. ".pkl"

    def train_step(self, X: np.ndarray, y: np.ndarray) -> Any:
        """One optimisation step on a mini-batch; returns the loss (anything float() accepts)."""

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions and, for classification, class probabilities (n, n_classes)."""

    def save(self, file: BinaryIO, meta: dict) -> None:
        """Write the model state plus the harness's `meta` dict to an open binary file."""

    def load(self, path: Path) -> dict:
        """Read a checkpoint written by save; returns a dict holding the meta keys."""

    def restore(self, checkpoint: dict, run: Run) -> None:
        """Adopt a loaded checkpoint, then run.lr and run.weight_decay (CLI overrides win)."""


# ---------------------------------------------------------------- config


# Files that are not part of what runs (exprun leaves them out of the approved hash too).
NOT_HASHED = {".exprun-manifest.json", "REVIEW.md", "CONTEXT.md", "context.json"}


def code_hash(folder: Path) -> str:
    """SHA-256 of this code folder as it is now, computed the way exprun hashes what a person approved
    (path order, links followed, notes left out), so collect can tell the seeds that ran edited code."""
    entries: list[tuple[tuple[str, ...], Path]] = []

    def walk(top: Path, rel: tuple[str, ...], seen: frozenset) -> None:
        real = os.path.realpath(top)
        if real in seen:
            raise ValueError(f"{top}: a link leads back into {real}")
        for entry in sorted(os.scandir(top), key=lambda e: e.name):
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=True):
                walk(Path(entry.path), rel + (entry.name,), seen | {real})
            elif entry.name not in NOT_HASHED and not entry.name.startswith("."):
                if entry.is_file(follow_symlinks=True) or entry.is_symlink():
                    entries.append((rel + (entry.name,), Path(entry.path)))

    walk(Path(folder), (), frozenset())
    digest = hashlib.sha256()
    for parts, path in sorted(entries, key=lambda item: item[0]):
        try:
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            content = hashlib.sha256(b"dangling link -> " + os.readlink(path).encode()).hexdigest()
        digest.update("/".join(parts).encode() + b"\0" + content.encode() + b"\n")
    return digest.hexdigest()


def load_config(path: Path, arm: str | None = None) -> tuple[dict, str]:
    """Parse and check config.yaml (with the overrides of `arm`, when given); also return the sha256 of the
    exact bytes parsed."""
    raw = Path(path).read_bytes()
    cfg = yaml.safe_load(raw)
    if arm:
        cfg = with_arm(cfg, arm)
    validate_config(cfg)
    return cfg, hashlib.sha256(raw).hexdigest()


def with_arm(cfg: dict, name: str) -> dict:
    """config.yaml as one arm sees it: its `overrides` merged in, key by key."""
    arm = next((a for a in cfg.get("arms") or [] if str(a.get("name")) == name), None)
    if arm is None:
        names = ", ".join(str(a.get("name")) for a in cfg.get("arms") or []) or "none"
        raise ValueError(f"--arm {name!r}: no such arm in config.yaml (arms: {names})")
    return {**merged(cfg, arm.get("overrides") or {}), "arm_name": name}


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def validate_config(cfg: dict) -> None:
    """Fail before any training on settings that could only break later."""
    task = cfg["task"]
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    supported = METRICS[task]
    unknown = [name for name in cfg["metrics"] if name not in supported]
    if unknown or not cfg["metrics"]:
        raise ValueError(f"metrics for {task} must be a non-empty list from {sorted(supported)}; got {unknown}")
    if cfg["primary_metric"] not in cfg["metrics"]:
        raise ValueError(f"primary_metric {cfg['primary_metric']!r} must be listed in metrics")
    baseline = baseline_name(cfg)
    if baseline not in NOT_RUN_BASELINES + (BASELINES[task],):
        raise ValueError(
            f"baseline {baseline!r} not available for {task}; use {BASELINES[task]!r}, or one of "
            f"{NOT_RUN_BASELINES} with its numbers in baseline_results"
        )


def baseline_name(cfg: dict) -> str:
    return (cfg.get("baseline") or {}).get("name") or "none"


# ---------------------------------------------------------------- seeding


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and, if the recipe already imported it, torch.

    torch is looked up rather than imported so recipes without torch never load it.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)  # also seeds every CUDA device


# ---------------------------------------------------------------- data

Reader = Callable[[Path, str], tuple[np.ndarray, np.ndarray]]


def load_dataset(cfg: dict, extra_readers: dict[str, Reader] | None = None) -> Dataset:
    """Read the configured dataset and turn it into a standardised train/test split.

    extra_readers maps file suffixes to readers, for recipes that know more formats.
    """
    X, y = read_dataset(cfg, {**FILE_READERS, **(extra_readers or {})})
    spec = cfg["dataset"]
    return split_and_scale(X, y, cfg["task"], float(spec.get("test_size", 0.2)))


def read_dataset(cfg: dict, readers: dict[str, Reader]) -> tuple[np.ndarray, np.ndarray]:
    """Return raw (X, y) from dataset.path when set, else from the sklearn built-in dataset.name."""
    spec = cfg["dataset"]
    if not spec.get("path"):
        return read_builtin(spec.get("name") or "", cfg["task"])
    path = Path(spec["path"])
    if not path.exists():
        raise DatasetNotFoundError(
            f"dataset not found: {path} (set dataset.path in experiments/code/{cfg['slug']}/config.yaml)"
        )
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"cannot read {path}: supported file types are {sorted(readers)}")
    return reader(path, spec.get("target_column") or "target")


def read_builtin(name: str, task: str) -> tuple[np.ndarray, np.ndarray]:
    if name not in BUILTIN_DATASETS:
        raise ValueError(
            f"unknown built-in dataset {name!r}; set dataset.path or use one of {sorted(BUILTIN_DATASETS)}"
        )
    if BUILTIN_DATASETS[name] != task:
        raise ValueError(f"dataset {name!r} is a {BUILTIN_DATASETS[name]} dataset but task is {task!r}")
    bunch = getattr(sk_datasets, f"load_{name}")()
    return bunch.data, bunch.target


def read_csv(path: Path, target_column: str) -> tuple[np.ndarray, np.ndarray]:
    """Numeric feature columns plus target_column; pandas is imported only when a CSV is used."""
    import pandas as pd

    frame = pd.read_csv(path)
    if target_column not in frame.columns:
        raise ValueError(f"target_column {target_column!r} not in {path}; columns are {list(frame.columns)}")
    return frame.drop(columns=[target_column]).to_numpy(dtype=np.float64), frame[target_column].to_numpy()


def read_npz(path: Path, target_column: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays named X and y; target_column does not apply to NPZ files."""
    with np.load(path, allow_pickle=False) as arrays:
        return arrays["X"], arrays["y"]


FILE_READERS: dict[str, Reader] = {".csv": read_csv, ".npz": read_npz}


def split_and_scale(X: np.ndarray, y: np.ndarray, task: str, test_size: float) -> Dataset:
    """Split with the fixed SPLIT_SEED, then fit the scalers on the training part only (no leakage)."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)  # images become flat feature vectors
    y = np.asarray(y)
    classify = task == "classification"
    if classify:
        y = LabelEncoder().fit_transform(y)
    # Stratify when every class can appear on both sides; a singleton class cannot.
    stratify = y if classify and np.bincount(y).min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=SPLIT_SEED, stratify=stratify
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = (scaler.transform(a).astype(np.float32) for a in (X_train, X_test))
    if classify:
        return Dataset(X_train, y_train, X_test, y_test, n_classes=int(y.max()) + 1)
    mean, std = float(y_train.mean()), float(y_train.std()) or 1.0
    return Dataset(X_train, (y_train - mean) / std, X_test, (y_test - mean) / std, target_mean=mean, target_std=std)


# ---------------------------------------------------------------- metrics


def _roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Binary AUC on the positive class, one-vs-rest macro AUC otherwise."""
    n_classes = proba.shape[1]
    if len(np.unique(y_true)) < n_classes:
        return math.nan  # undefined when a class is missing from the test split
    if n_classes == 2:
        return sk_metrics.roc_auc_score(y_true, proba[:, 1])
    return sk_metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=np.arange(n_classes))


def _log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    # Renormalise in float64: float32 rows can miss 1.0 by enough to trigger sklearn's warning.
    proba = np.asarray(proba, dtype=np.float64)
    proba /= proba.sum(axis=1, keepdims=True)
    return sk_metrics.log_loss(y_true, proba, labels=np.arange(proba.shape[1]))


def _macro(score: Callable) -> Callable:
    return lambda y_true, y_pred: score(y_true, y_pred, average="macro", zero_division=0)


LABEL_METRICS = {
    "accuracy": sk_metrics.accuracy_score,
    "f1_macro": _macro(sk_metrics.f1_score),
    "precision_macro": _macro(sk_metrics.precision_score),
    "recall_macro": _macro(sk_metrics.recall_score),
}
PROBA_METRICS = {"roc_auc": _roc_auc, "log_loss": _log_loss}
REGRESSION_METRICS = {
    "mse": sk_metrics.mean_squared_error,
    "rmse": lambda y_true, y_pred: math.sqrt(sk_metrics.mean_squared_error(y_true, y_pred)),
    "mae": sk_metrics.mean_absolute_error,
    "r2": sk_metrics.r2_score,
}
METRICS = {
    "classification": {**LABEL_METRICS, **PROBA_METRICS},
    "regression": REGRESSION_METRICS,
}


def evaluate(names: list[str], dataset: Dataset, y_pred: np.ndarray, proba: np.ndarray | None) -> dict[str, float]:
    """Score test-split predictions; a metric of non-finite predictions is NaN, not an error."""
    if not dataset.n_classes:
        y_true, y_pred = dataset.to_target_units(dataset.y_test), dataset.to_target_units(y_pred)
        finite = bool(np.isfinite(y_pred).all())
        return {name: float(REGRESSION_METRICS[name](y_true, y_pred)) if finite else math.nan for name in names}
    return {name: _classification_metric(name, dataset.y_test, y_pred, proba) for name in names}


def _classification_metric(name: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None) -> float:
    if name in LABEL_METRICS:
        return float(LABEL_METRICS[name](y_true, y_pred))
    if proba is None:
        raise ValueError(f"metric {name} needs class probabilities but the model's predict returned none")
    return float(PROBA_METRICS[name](y_true, proba)) if np.isfinite(proba).all() else math.nan


# ---------------------------------------------------------------- output


def log(line: str) -> None:
    """Print one output line, flushed so that whoever tails the log sees it at once."""
    print(line, flush=True)


def gpu_peak_mib() -> int | None:
    """The most GPU memory this process held, in MiB, when it used CUDA through torch; None otherwise.

    Printed as `gpu_peak_mib=N` (the run contract's line): the sanity run records it and deploy picks GPUs
    with that much free plus a margin. Reserved rather than allocated memory, because the caching
    allocator's reserve is what the card must have free. torch is read only if the recipe imported it.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    peak = max((torch.cuda.max_memory_reserved(index) for index in range(torch.cuda.device_count())), default=0)
    return math.ceil(peak / 2**20)


def format_metrics(scores: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.4f}" for name, value in scores.items())


def progress_line(step: int, total: int, epoch: int, loss: float, lr: float) -> str:
    return f"step={step}/{total} epoch={epoch} loss={loss:.4f} lr={lr:g}"


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through a temp file in the same folder, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def json_safe(scores: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN/inf: non-finite scores become null."""
    return {name: value if math.isfinite(value) else None for name, value in scores.items()}


def write_json(path: Path, payload: dict) -> None:
    data = json.dumps(payload, indent=2, allow_nan=False).encode() + b"\n"
    atomic_write(path, lambda file: file.write(data))
