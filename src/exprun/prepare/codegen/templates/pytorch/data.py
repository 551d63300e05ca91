"""Dataset loading for this experiment; edit load_data to add preprocessing or features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import utils


def load_data(cfg: dict) -> utils.Dataset:
    """The dataset named in config.yaml: an sklearn built-in, a CSV, an NPZ or a .pt file."""
    return utils.load_dataset(cfg, extra_readers={".pt": read_torch_file})


def read_torch_file(path: Path, target_column: str) -> tuple[np.ndarray, np.ndarray]:
    """A torch.save'd {"X": tensor, "y": tensor}; weights_only refuses arbitrary pickled code."""
    tensors = torch.load(path, map_location="cpu", weights_only=True)
    return tensors["X"].numpy(), tensors["y"].numpy()
