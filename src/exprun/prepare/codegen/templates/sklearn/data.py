"""Dataset loading for this experiment; edit load_data to add preprocessing or features."""

from __future__ import annotations

import utils


def load_data(cfg: dict) -> utils.Dataset:
    """The dataset named in config.yaml: an sklearn built-in, a CSV or an NPZ file."""
    return utils.load_dataset(cfg)
