"""From a planned page to the generated experiment's `config.yaml`.

The page is prose written for people; this module reads what a built-in
recipe can act on (framework, dataset, model size, hyperparameters, seeds,
metrics, success criteria) and says plainly what it could not map, so the
reviewer sees it in CONTEXT.md before approving.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from exprun.core.errors import ConfigError
from exprun.experiment import hardware
from exprun.experiment import seeds as seed_rules
from exprun.prepare.codegen import criteria, page_arms
from exprun.wiki.pages import Page

SKLEARN_DATASETS = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
DATA_SUFFIXES = (".csv", ".npz", ".pt")

# Page metric wording -> recipe metric name; the first pattern that matches wins.
METRIC_PATTERNS = (
    (r"\bf1\b|f-?score", "f1_macro"),
    (r"\bprecision\b", "precision_macro"),
    (r"\brecall\b", "recall_macro"),
    (r"roc|\bauc\b", "roc_auc"),
    (r"log[\s_-]?loss|cross[\s_-]?entropy|\bnll\b", "log_loss"),
    (r"\brmse\b|root[\s_-]mean[\s_-]squared", "rmse"),
    (r"\bmse\b|mean squared", "mse"),
    (r"\bmae\b|mean absolute", "mae"),
    (r"\br2\b|r\^2|r²|coefficient of determination", "r2"),
    (r"\baccuracy\b|\bacc\b|top-?1", "accuracy"),
)
REGRESSION_METRICS = {"mse", "rmse", "mae", "r2"}
LOWER_IS_BETTER = {"log_loss", "mse", "rmse", "mae"}


@dataclass
class Spec:
    """The generated config plus what the mapping could not cover."""

    config: dict
    needs_gpu: bool
    notes: list[str] = field(default_factory=list)


def framework_of(page: Page) -> str:
    text = str(page.get("setup.framework") or "").lower()
    if re.search(r"sklearn|scikit", text):
        return "sklearn"
    if re.search(r"pytorch|\btorch\b", text):
        return "pytorch"
    return "generic"


def needs_gpu(page: Page) -> bool:
    """True when setup.hardware asks for a GPU; cpu/none/empty never does (experiment.hardware reads the words)."""
    return hardware.gpus_asked(page.get("setup.hardware")) > 0


def map_metric(text: str) -> str | None:
    for pattern, name in METRIC_PATTERNS:
        if re.search(pattern, str(text), re.I):
            return name
    return None


def _dataset(page: Page) -> tuple[dict, str | None]:
    text = str(page.get("setup.dataset") or "")
    lowered = text.lower().replace("-", "_").replace(" ", "_")
    for name, task in SKLEARN_DATASETS.items():
        if re.search(rf"(^|[^a-z]){name}([^a-z]|$)", lowered):
            return {"name": name, "path": "", "target_column": "target", "test_size": 0.2}, task
    path = next((tok.strip("`'\"(),") for tok in text.split() if tok.strip("`'\"(),").endswith(DATA_SUFFIXES)), "")
    return {"name": "", "path": path, "target_column": "target", "test_size": 0.2}, None


def _number(pattern: str, text: str, cast=float) -> Any:
    match = re.search(pattern, text, re.I)
    return cast(match.group(1)) if match else None


def _hyperparameters(text: str) -> dict:
    found = {
        "learning_rate": _number(r"(?:\blr|learning[\s_-]rate)(?:\s+of)?\s*[=:]?\s*([0-9.]+(?:e-?[0-9]+)?)", text),
        "batch_size": _number(r"batch(?:[\s_-]size)?(?:\s+of)?\s*[=:]?\s*([0-9]+)", text, int),
        "epochs": _number(r"([0-9]+)\s+epochs?\b", text, int),
    }
    defaults = {"learning_rate": 0.001, "batch_size": 64, "epochs": 20, "weight_decay": 0.0001, "log_every": 10}
    return {**defaults, **{k: v for k, v in found.items() if v is not None}}


def _seeds(text: str, default_count: int) -> list[int]:
    listed = re.search(r"seeds?\s*[:=]?\s*((?:[0-9]+\s*(?:,|and|-|–)\s*)+[0-9]+)", text, re.I)
    if listed:
        numbers = [int(n) for n in re.findall(r"[0-9]+", listed.group(1))]
        if re.search(r"[0-9]\s*[-–]\s*[0-9]", listed.group(1)) and len(numbers) == 2:
            count = numbers[1] - numbers[0] + 1
            if count > seed_rules.MAX_SEEDS:  # refused before a range of a hundred million is ever built
                raise ConfigError(
                    f"the page's seeds {listed.group(1).strip()}: {count} seeds; at most "
                    f"{seed_rules.MAX_SEEDS} — name fewer seeds on the page"
                )
            return list(range(numbers[0], numbers[1] + 1))
        return numbers
    count = _number(r"([0-9]+)\s+seeds", text, int)
    return list(range(count or default_count))


def _model(page: Page, framework: str) -> dict:
    text = str(page.get("setup.model") or "")
    name = "cnn" if framework == "pytorch" and re.search(r"\bcnn\b|conv", text, re.I) else "mlp"
    units = [int(n) for n in re.findall(r"([0-9]+)\s*(?:hidden\s*)?units", text, re.I)]
    return {"name": name, "hidden_sizes": units or [64]}


def build_spec(page: Page, default_seeds: int = 3) -> Spec:
    """Map a page onto the recipe config; notes list everything left for the reviewer."""
    framework = framework_of(page)
    prose = "\n".join([str(page.get("setup.model") or ""), page.body])
    dataset, task = _dataset(page)
    notes: list[str] = []
    metrics, unmapped = [], []
    for raw in page.get("metrics") or []:
        name = map_metric(raw)
        if name and name not in metrics:
            metrics.append(name)
        elif not name:
            unmapped.append(str(raw))
    if task is None:
        task = "regression" if metrics and set(metrics) <= REGRESSION_METRICS else "classification"
    if not metrics:
        metrics = ["accuracy", "f1_macro"] if task == "classification" else ["rmse", "r2"]
        notes.append(f"no page metric maps to a built-in metric; using {', '.join(metrics)}")
    if unmapped:
        notes.append("metrics the built-in recipe does not compute: " + "; ".join(unmapped))
    if not dataset["name"] and not dataset["path"]:
        notes.append(
            f"dataset '{page.get('setup.dataset') or ''}' is neither a scikit-learn dataset nor a file path: "
            "set dataset.path in config.yaml"
        )
    if framework == "generic":
        notes.append(
            f"framework '{page.get('setup.framework') or ''}' has no built-in recipe: "
            "write load_data() in data.py and build_model() in model.py"
        )
    baseline, baseline_notes = criteria.baseline(page, framework, task)
    primary = metrics[0]
    success, criteria_notes = criteria.from_page(page, primary, primary not in LOWER_IS_BETTER)
    notes += baseline_notes + criteria_notes
    slug = page.slug
    model = _model(page, framework)
    config = {
        "slug": slug,
        "framework": framework,
        "task": task,
        "dataset": dataset,
        "model": model,
        "baseline": baseline,
        "hyperparameters": _hyperparameters(prose),
        "seeds": _seeds(page.body, default_seeds),
        "metrics": metrics,
        "primary_metric": primary,
        "higher_is_better": {m: m not in LOWER_IS_BETTER for m in metrics},
        "success_criteria": success,
        "sanity": {"epochs": 1, "max_steps": 100, "subset": 1024},
        "paths": {"results_dir": f"results/{slug}", "checkpoint_dir": f"checkpoints/{slug}"},
    }
    declared = page_arms.declared(page, model["hidden_sizes"][0], notes)
    if declared:
        config["arms"] = declared
        if any(a["role"] == "control" for a in declared):  # ablations compare with the control arm, not a baseline
            config["baseline"] = {
                "name": "control_arm",
                "description": baseline.get("description") or "the control arm",
            }
            notes[:] = [n for n in notes if "is not implemented by the built-in recipe" not in n]
    return Spec(config=config, needs_gpu=needs_gpu(page), notes=notes)
