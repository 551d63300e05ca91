"""Runtime estimate at deploy: measured sanity throughput, else the seed's rule-of-thumb table."""

from __future__ import annotations

import math
import re

from exprun.experiment.experiment_config import ExperimentConfig

# (pattern over setup text, hours) — the middle of the ranges in the /exp-run table.
RULES_OF_THUMB = (
    (
        r"\b([2-9]|[1-9][0-9])\s*[x×]\s*(gpu|a100|h100|h200|v100)|multi-?gpu|\b([7-9]|[1-9][0-9]{1,2})b\b|llama|\bllm\b",
        24.0,
        "multi-GPU or large-model (≥7B) fine-tuning (8–48 h)",
    ),
    (r"imagenet|glue|a100|medium", 8.0, "single A100 + medium dataset (4–12 h)"),
    (r".", 1.5, "single GPU + small dataset (0.5–3 h)"),
)


def train_size(dataset_report: dict, config: ExperimentConfig) -> int | None:
    """Training examples: dataset rows minus the held-out share."""
    rows = None
    if dataset_report.get("shape"):
        rows = int(dataset_report["shape"][0])
    elif dataset_report.get("rows"):
        rows = int(dataset_report["rows"])
    elif dataset_report.get("arrays", {}).get("X"):
        rows = int(dataset_report["arrays"]["X"][0])
    if rows is None:
        return None
    test_size = float(config.dataset.get("test_size") or 0.2)
    return max(1, int(rows * (1 - test_size)))


def planned_steps(config: ExperimentConfig, n_train: int | None) -> int | None:
    """Steps of one seed's full run (epochs × batches per epoch)."""
    hp = config.hyperparameters
    if n_train is None or not hp.get("epochs") or not hp.get("batch_size"):
        return None
    return int(hp["epochs"]) * math.ceil(n_train / int(hp["batch_size"]))


def estimate_hours(
    sanity: dict, dataset_report: dict, config: ExperimentConfig, setup: dict, parallel: int = 1
) -> tuple[float, str]:
    """(hours, how it was obtained) for every task (arm × seed) of the run, `parallel` at a time."""
    seeds, count = len(config.seeds), len(config.arms)
    tasks = seeds * count
    steps = planned_steps(config, train_size(dataset_report, config))
    per_step = sanity.get("seconds_per_step")
    if steps and per_step:
        hours = per_step * steps * math.ceil(tasks / max(parallel, 1)) / 3600
        what = f"{seeds} seeds" if count == 1 else f"{count} arms × {seeds} seeds"
        at_once = f" ÷ {parallel} at a time" if parallel > 1 else ""
        return round(max(hours, 0.01), 2), f"sanity throughput {per_step:.4f} s/step × {steps} steps × {what}{at_once}"
    text = " ".join(str(v) for v in (setup or {}).values()).lower()
    for pattern, hours, label in RULES_OF_THUMB:
        if re.search(pattern, text):
            return hours, f"rule of thumb: {label}"
    return 1.5, "rule of thumb"
