"""Dataset loading for this experiment: exprun has no recipe for it, so a reviewer writes it."""

from __future__ import annotations

import utils


def load_data(cfg: dict) -> utils.Dataset:
    """Return the train/test split as a utils.Dataset of NumPy arrays.

    utils.load_dataset(cfg) already reads sklearn built-ins, CSV and NPZ files and
    standardises them; utils.split_and_scale(X, y, task, test_size) does the split
    and scaling for arrays loaded any other way.
    """
    spec = cfg["dataset"]
    source = spec.get("path") or spec.get("name") or "<unset: fill dataset.name or dataset.path>"
    raise NotImplementedError(
        f"generic recipe: write load_data(cfg) in experiments/code/{cfg['slug']}/data.py "
        f"to load dataset {source!r} and return a utils.Dataset "
        "(the docstring of load_data names helpers that do most of the work)"
    )
