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
from exprun.prepare.codegen import criteria, metric_names, page_arms
from exprun.wiki.pages import Page

SKLEARN_DATASETS = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}
DATA_SUFFIXES = (".csv", ".npz", ".pt")

REGRESSION_METRICS = {"mse", "rmse", "mae", "r2"}


@dataclass
class Spec:
    """The generated config plus what the mapping could not cover."""

    config: dict
    needs_gpu: bool
    notes: list[str] = field(default_factory=list)
    criteria_read: list[criteria.Reading] = field(default_factory=list)  # every criterion sentence, quoted
    seeds_named: bool = False  # the page names its seeds (else config's seeds are the default count)
    arm_notes: list[str] = field(default_factory=list)  # the page's arms no recipe runs: shown whoever writes the code


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


# One seed only where the words say so of the seeds: "one run of the baseline is enough" is no seed count.
SINGLE_RUN = re.compile(
    r"\bsingle\s+deterministic\s+run\b|\bsingle[\s-]seed\b|\b(?:with|using|on|only|just)\s+one\s+seed\b",
    re.I,
)


def _seeds(text: str, default_count: int, fallback: str = "") -> list[int]:
    """The seeds `text` (the page's body) names, else those `fallback` (its hypothesis: "… with 5 seeds")
    names, else the default count. The body's Setup/Procedure is where a page fixes its seeds, so it wins over
    a hypothesis that mentions them in passing."""
    return _named_seeds(text) or _named_seeds(fallback) or list(range(default_count))


def _named_seeds(text: str) -> list[int] | None:
    """The seeds the text names: a list or range, "N seeds", one seed ("seed=0", "a single deterministic run",
    "a single seed", "with one seed"); None when it names none."""
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
    if count:
        return list(range(count))
    one = re.search(r"\bseed\s*[=:]\s*([0-9]+)\b", text, re.I)
    if one:  # "single deterministic run (seed=0)": that seed, not the default count
        return [int(one.group(1))]
    if SINGLE_RUN.search(text):
        return [0]
    return None


def _model(page: Page, framework: str) -> dict:
    text = str(page.get("setup.model") or "")
    name = "cnn" if framework == "pytorch" and re.search(r"\bcnn\b|conv", text, re.I) else "mlp"
    units = [int(n) for n in re.findall(r"([0-9]+)\s*(?:hidden\s*)?units", text, re.I)]
    return {"name": name, "hidden_sizes": units or [64]}


def _judged_metric(page: Page, metrics: list[str], unmapped: list[str]) -> str:
    """The metric the default criterion judges: the recipe's primary when a page metric maps onto it; else the
    page's own first metric (normalised) — a page about success rates or energy barriers is never judged on
    the accuracy the recipe falls back to."""
    if unmapped and not any(metric_names.recipe_metric(m) for m in page.get("metrics") or []):
        return metric_names.normalised(unmapped[0])
    return metrics[0]


def build_spec(page: Page, default_seeds: int = 3) -> Spec:
    """Map a page onto the recipe config; notes list everything left for the reviewer."""
    framework = framework_of(page)
    prose = "\n".join([str(page.get("setup.model") or ""), page.body])
    dataset, task = _dataset(page)
    notes: list[str] = []
    metrics, unmapped = [], []
    for raw in page.get("metrics") or []:
        name = metric_names.recipe_metric(raw)
        if name and name not in metrics:
            metrics.append(name)
        elif not name:
            unmapped.append(str(raw))
    if task is None:
        task = "regression" if metrics and set(metrics) <= REGRESSION_METRICS else "classification"
    if not metrics:
        metrics = ["accuracy", "f1_macro"] if task == "classification" else ["rmse", "r2"]
        notes.append(
            f"no page metric maps to a built-in metric; the recipe computes {', '.join(metrics)}, but the criteria "
            "judge the page's own metrics: the code must report them"
            if unmapped
            else f"the page names no metric; using {', '.join(metrics)}"
        )
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
    judged = _judged_metric(page, metrics, unmapped)
    read = criteria.read(page, judged, metric_names.higher_is_better(judged))
    notes += baseline_notes + read.notes
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
        "seeds": _seeds(page.body, default_seeds, str(page.get("hypothesis") or "")),
        "metrics": metrics,
        "primary_metric": primary,
        "higher_is_better": {m: metric_names.higher_is_better(m) for m in metrics},
        "success_criteria": read.criteria,
        "sanity": {"epochs": 1, "max_steps": 100, "subset": 1024},
        "paths": {"results_dir": f"results/{slug}", "checkpoint_dir": f"checkpoints/{slug}"},
    }
    arm_notes: list[str] = []
    declared = page_arms.declared(page, model["hidden_sizes"][0], arm_notes)
    if declared:
        config["arms"] = declared
        if any(a["role"] == "control" for a in declared):  # ablations compare with the control arm, not a baseline
            config["baseline"] = {
                "name": "control_arm",
                "description": baseline.get("description") or "the control arm",
            }
            notes[:] = [n for n in notes if "is not implemented by the built-in recipe" not in n]
    named = bool(_seeds(page.body, 0, str(page.get("hypothesis") or "")))
    return Spec(config, needs_gpu(page), notes + arm_notes, read.readings, named, arm_notes)
