"""PyTorch networks for this experiment and the learner that train.py drives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import utils
from torch import nn

CONV_CHANNELS = (16, 32)
EVAL_BATCH = 4096  # predict in chunks so a large test split does not exhaust GPU memory


def build_model(cfg: dict, dataset: utils.Dataset, run: utils.Run) -> TorchLearner:
    device = resolve_device(run.device)
    spec = cfg["model"]
    n_outputs = dataset.n_classes or 1
    net = build_network(spec["name"], dataset.n_features, list(spec.get("hidden_sizes") or []), n_outputs)
    return TorchLearner(net.to(device), dataset.n_classes > 0, run.lr, run.weight_decay, device)


def resolve_device(choice: str) -> torch.device:
    """auto means the first visible GPU if any (CUDA_VISIBLE_DEVICES is honoured by torch), else the CPU:
    a fallback exprun does not count as a GPU requirement of a CPU page, so only `--device cuda` asks for one."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        utils.log("device=cpu")
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but torch.cuda.is_available() is False")
    device = torch.device(choice, torch.cuda.current_device())
    utils.log(f"device={device} ({torch.cuda.get_device_name(device)})")
    return device


def build_network(name: str, n_features: int, hidden_sizes: list[int], n_outputs: int) -> nn.Module:
    if name == "mlp":
        return mlp(n_features, hidden_sizes, n_outputs)
    if name == "cnn":
        return SmallCNN(n_features, hidden_sizes, n_outputs)
    raise ValueError(f"pytorch recipe supports model.name 'mlp' or 'cnn', got {name!r}")


def mlp(n_inputs: int, hidden_sizes: list[int], n_outputs: int) -> nn.Sequential:
    """Linear+ReLU per hidden size, then a linear output layer."""
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(n_inputs, width), nn.ReLU()]
        n_inputs = width
    layers.append(nn.Linear(n_inputs, n_outputs))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Two 3x3 conv layers and a 2x2 max-pool, then an MLP head over hidden_sizes.

    Inputs arrive as flat standardised vectors and are viewed as one-channel square
    images, e.g. the 64 features of sklearn's digits as 8x8.
    """

    def __init__(self, n_features: int, hidden_sizes: list[int], n_outputs: int):
        super().__init__()
        self.side = math.isqrt(n_features)
        if self.side * self.side != n_features or self.side < 2:
            raise ValueError(f"model 'cnn' needs square one-channel images; {n_features} features are not H*W")
        first, second = CONV_CHANNELS
        self.features = nn.Sequential(
            nn.Conv2d(1, first, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(first, second, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = mlp(second * (self.side // 2) ** 2, hidden_sizes, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(-1, 1, self.side, self.side)))


class TorchLearner:
    """Adam on cross-entropy (classification) or MSE (regression); implements utils.Learner."""

    checkpoint_suffix = ".pt"

    def __init__(self, net: nn.Module, classify: bool, lr: float, weight_decay: float, device: torch.device):
        self.net = net
        self.classify = classify
        self.device = device
        self.loss_fn = nn.CrossEntropyLoss() if classify else nn.MSELoss()
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    def _inputs(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(X).to(self.device, torch.float32)

    def _targets(self, y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(y).to(self.device, torch.long if self.classify else torch.float32)

    def _forward(self, X: np.ndarray) -> torch.Tensor:
        out = self.net(self._inputs(X))
        return out if self.classify else out.squeeze(1)

    def train_step(self, X: np.ndarray, y: np.ndarray) -> torch.Tensor:
        """Returns the loss as a tensor: train.py reads it only when logging, saving a GPU sync per step."""
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self._forward(X), self._targets(y))
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        self.net.eval()
        chunks = [self._forward(X[i : i + EVAL_BATCH]) for i in range(0, len(X), EVAL_BATCH)]
        out = torch.cat(chunks).cpu()
        if not self.classify:
            return out.numpy(), None
        proba = torch.softmax(out, dim=1).numpy()
        return proba.argmax(axis=1), proba

    def save(self, file: BinaryIO, meta: dict) -> None:
        torch.save({"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), **meta}, file)

    def load(self, path: Path) -> dict:
        return torch.load(path, map_location=self.device, weights_only=True)

    def restore(self, checkpoint: dict, run: utils.Run) -> None:
        self.net.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        for group in self.optimizer.param_groups:
            group.update(lr=run.lr, weight_decay=run.weight_decay)
