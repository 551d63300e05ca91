"""Model for this experiment: exprun has no recipe for it, so a reviewer writes it."""

from __future__ import annotations

import utils


def build_model(cfg: dict, dataset: utils.Dataset, run: utils.Run) -> utils.Learner:
    """Return an object with the methods of utils.Learner, which train.py drives.

    `run` holds the effective seed, device, lr, batch_size and weight_decay. The
    sklearn and pytorch recipes of exprun show complete learners.
    """
    raise NotImplementedError(
        f"generic recipe: write build_model(cfg, dataset, run) in experiments/code/{cfg['slug']}/model.py "
        f"to build model {cfg['model']['name']!r} and return an object implementing utils.Learner "
        "(train_step, predict, save, load, restore; see utils.py)"
    )
