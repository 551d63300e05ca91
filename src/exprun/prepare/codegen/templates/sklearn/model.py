"""scikit-learn MLP trained one mini-batch at a time with partial_fit.

Driving partial_fit ourselves (instead of fit) makes every optimisation step,
its loss, learning rate and batch size visible to the harness in train.py.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import BinaryIO

import numpy as np
import utils
from sklearn.neural_network import MLPClassifier, MLPRegressor


def build_model(cfg: dict, dataset: utils.Dataset, run: utils.Run) -> SklearnLearner:
    """An Adam-trained MLP; weight_decay maps to sklearn's L2 penalty `alpha`."""
    if run.device == "cuda":
        raise ValueError("the sklearn recipe runs on CPU only; drop --device cuda")
    spec = cfg["model"]
    if spec["name"] != "mlp":
        raise ValueError(f"sklearn recipe supports model.name 'mlp', got {spec['name']!r}")
    estimator_class = MLPClassifier if dataset.n_classes else MLPRegressor
    estimator = estimator_class(
        hidden_layer_sizes=tuple(spec.get("hidden_sizes") or ()),
        solver="adam",
        learning_rate_init=run.lr,
        alpha=run.weight_decay,
        shuffle=False,  # train.py already shuffles; each call sees exactly one batch
        random_state=run.seed,
    )
    return SklearnLearner(estimator, dataset.n_classes)


class SklearnLearner:
    """Adapts an sklearn MLP to the utils.Learner interface that train.py drives."""

    checkpoint_suffix = ".pkl"

    def __init__(self, estimator: MLPClassifier | MLPRegressor, n_classes: int):
        self.estimator = estimator
        self.classes = np.arange(n_classes) if n_classes else None

    def train_step(self, X: np.ndarray, y: np.ndarray) -> float:
        # A batch_size equal to the batch makes one partial_fit call exactly one Adam step.
        self.estimator.batch_size = len(y)
        try:
            if self.classes is None:
                self.estimator.partial_fit(X, y)
            else:
                self.estimator.partial_fit(X, y, classes=self.classes)
        except ValueError as err:  # sklearn refuses non-finite weights: a diverged step, reported as torch would
            if "non-finite" in str(err):
                return float("nan")
            raise
        return self.estimator.loss_

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.classes is None:
            return self.estimator.predict(X), None
        proba = self.estimator.predict_proba(X)
        return proba.argmax(axis=1), proba

    def save(self, file: BinaryIO, meta: dict) -> None:
        pickle.dump({"model": self.estimator, **meta}, file, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: Path) -> dict:
        with open(path, "rb") as file:
            return pickle.load(file)

    def restore(self, checkpoint: dict, run: utils.Run) -> None:
        self.estimator = checkpoint["model"]
        self.estimator.set_params(learning_rate_init=run.lr, alpha=run.weight_decay)
        # Adam keeps its own copy of the rate once created; update it so --lr takes effect.
        optimizer = getattr(self.estimator, "_optimizer", None)
        if optimizer is not None:
            optimizer.learning_rate_init = run.lr
