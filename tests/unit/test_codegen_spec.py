"""From a planned page to the generated config.yaml, and the hashes that protect a person's edits."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from exprun.prepare.codegen import manifest
from exprun.prepare.codegen.metric_names import recipe_metric
from exprun.prepare.codegen.spec import build_spec
from exprun.wiki.pages import load_page

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wiki" / "wiki" / "experiments"
MLP = "digits-mlp-vs-logreg"
CNN = "digits-cnn-gpu"


def example(slug: str):
    return build_spec(load_page(EXAMPLES / f"{slug}.md"))


def write_page(
    folder: Path,
    slug: str = "some-experiment",
    *,
    framework="pytorch",
    dataset="sklearn digits",
    hardware="cpu",
    model="MLP",
    metrics="[accuracy]",
    extra_meta="",
    body="## Setup\n\n- Seeds: 0, 1, 2.\n",
):
    path = folder / f"{slug}.md"
    path.write_text(
        textwrap.dedent(f"""\
        ---
        title: "A test experiment"
        slug: "{slug}"
        status: planned
        setup:
          model: "{model}"
          dataset: "{dataset}"
          hardware: "{hardware}"
          framework: "{framework}"
        metrics: {metrics}
        baseline: "logistic regression"
        """)
        + extra_meta
        + "---\n\n"
        + body,
        encoding="utf-8",
    )
    return load_page(path)


# ------------------------------------------------------------------ the two example pages

EXAMPLE_FIELDS = [
    # slug, framework, model name, needs_gpu, seeds, success criteria (the page's field, or read from its prose), epochs
    (MLP, "sklearn", "mlp", False, [0, 1, 2], [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.005}], 20),
    (
        CNN,
        "pytorch",
        "cnn",
        True,
        [0, 1, 2],
        [{"metric": "accuracy", "vs": "baseline", "min_delta": 0.0, "source": "page prose; confirm at the gate"}],
        15,
    ),
]


@pytest.mark.parametrize(
    "slug,framework,model,gpu,seeds,criteria,epochs", EXAMPLE_FIELDS, ids=[e[0] for e in EXAMPLE_FIELDS]
)
def test_example_pages(slug, framework, model, gpu, seeds, criteria, epochs):
    spec = example(slug)
    cfg = spec.config
    assert cfg["slug"] == slug
    assert cfg["framework"] == framework
    assert cfg["dataset"]["name"] == "digits" and cfg["dataset"]["path"] == ""
    assert cfg["task"] == "classification"
    assert cfg["metrics"] == ["accuracy", "f1_macro"]  # "macro F1" → f1_macro
    assert cfg["primary_metric"] == "accuracy"
    assert cfg["higher_is_better"] == {"accuracy": True, "f1_macro": True}
    assert cfg["seeds"] == seeds
    assert spec.needs_gpu is gpu
    assert cfg["model"]["name"] == model
    assert cfg["success_criteria"] == criteria
    assert cfg["baseline"]["name"] == "logistic_regression"
    assert cfg["hyperparameters"]["learning_rate"] == pytest.approx(1e-3)
    assert cfg["hyperparameters"]["batch_size"] == 64
    assert cfg["hyperparameters"]["epochs"] == epochs
    assert cfg["paths"] == {"results_dir": f"results/{slug}", "checkpoint_dir": f"checkpoints/{slug}"}
    # everything on these pages maps onto a recipe; a criterion read from prose is quoted for the person
    assert [n for n in spec.notes if not n.startswith(("success criteria read", "  hypothesis:"))] == []


def test_mlp_page_hidden_units_come_from_the_page():
    assert example(MLP).config["model"]["hidden_sizes"] == [64]


def test_config_is_plain_data():
    json.dumps(example(MLP).config)  # written as config.yaml: no custom objects


# ------------------------------------------------------------------ unknown framework / dataset / metrics


def test_unknown_framework_and_dataset_fall_back_to_generic_with_notes(tmp_path):
    page = write_page(tmp_path, framework="jax", dataset="ImageNet-1k", hardware="8x A100", model="ViT-B/16")
    spec = build_spec(page)
    assert spec.config["framework"] == "generic"
    assert spec.config["dataset"]["name"] == "" and spec.config["dataset"]["path"] == ""
    assert spec.config["model"]["name"] == "mlp"  # cnn is a pytorch recipe only
    assert spec.needs_gpu is True
    assert any("framework 'jax'" in n and "no built-in recipe" in n for n in spec.notes), spec.notes
    assert any("dataset 'ImageNet-1k'" in n and "dataset.path" in n for n in spec.notes), spec.notes


def test_unmapped_metrics_are_noted_and_mapped_ones_kept(tmp_path):
    spec = build_spec(write_page(tmp_path, metrics="[accuracy, BLEU, human preference]"))
    assert spec.config["metrics"] == ["accuracy"]
    assert "metrics the built-in recipe does not compute: BLEU; human preference" in spec.notes


def test_no_mapped_metric_uses_task_defaults_and_says_so(tmp_path):
    spec = build_spec(write_page(tmp_path, metrics="[BLEU]"))
    assert spec.config["metrics"] == ["accuracy", "f1_macro"]
    assert any("no page metric maps" in n for n in spec.notes)


def test_dataset_file_path_is_taken_from_the_page(tmp_path):
    spec = build_spec(write_page(tmp_path, dataset="our CSV at `data/churn.csv` (target column: churned)"))
    assert spec.config["dataset"]["path"] == "data/churn.csv"
    assert not any("dataset" in n for n in spec.notes)


def test_regression_dataset_and_lower_is_better_metrics(tmp_path):
    spec = build_spec(write_page(tmp_path, framework="scikit-learn", dataset="sklearn diabetes", metrics="[MSE, R2]"))
    cfg = spec.config
    assert cfg["framework"] == "sklearn" and cfg["task"] == "regression"
    assert cfg["metrics"] == ["mse", "r2"]
    assert cfg["higher_is_better"] == {"mse": False, "r2": True}
    assert cfg["baseline"]["name"] == "linear_regression"
    assert cfg["success_criteria"] == [{"metric": "mse", "vs": "baseline", "min_delta": 0.0}]


def test_page_success_criteria_are_used_as_written(tmp_path):
    criteria = (
        "success_criteria:\n  - {metric: f1_macro, threshold: 0.9}\n"
        "  - {metric: accuracy, vs: baseline, min_delta: 0.01}\n"
    )
    spec = build_spec(write_page(tmp_path, metrics="[accuracy, macro F1]", extra_meta=criteria))
    assert spec.config["success_criteria"] == [
        {"metric": "f1_macro", "threshold": 0.9},
        {"metric": "accuracy", "vs": "baseline", "min_delta": 0.01},
    ]


METRIC_WORDING = [
    ("macro F1", "f1_macro"),
    ("F1-score", "f1_macro"),
    ("accuracy", "accuracy"),
    ("top-1 acc", "accuracy"),
    ("precision", "precision_macro"),
    ("recall", "recall_macro"),
    ("ROC AUC", "roc_auc"),
    ("AUROC", "roc_auc"),
    ("log loss", "log_loss"),
    ("cross-entropy", "log_loss"),
    ("RMSE", "rmse"),
    ("MSE", "mse"),
    ("mean squared error", "mse"),
    ("MAE", "mae"),
    ("mean absolute error", "mae"),
    ("R²", "r2"),
    ("coefficient of determination", "r2"),
    ("BLEU", None),
    ("perplexity", None),
]


@pytest.mark.parametrize("wording,name", METRIC_WORDING)
def test_metric_mapping(wording, name):
    assert recipe_metric(wording) == name


def test_root_mean_squared_error_is_rmse():
    assert recipe_metric("root mean squared error") == "rmse"


# ------------------------------------------------------------------ seeds, hardware, hyperparameters

SEED_TEXT = [
    ("- Seeds: 0, 1, 2.", [0, 1, 2]),
    ("- seeds 0-2", [0, 1, 2]),
    ("- seeds 0–4", [0, 1, 2, 3, 4]),
    ("- seeds: 1, 2 and 3", [1, 2, 3]),
    ("- 5 seeds", [0, 1, 2, 3, 4]),
    ("- nothing about randomness", [0, 1, 2]),  # the default count (codegen.seeds = 3)
]


@pytest.mark.parametrize("line,seeds", SEED_TEXT)
def test_seeds_from_the_page_body(tmp_path, line, seeds):
    spec = build_spec(write_page(tmp_path, body=f"## Setup\n\n{line}\n"))
    assert spec.config["seeds"] == seeds


def test_default_seed_count_is_configurable(tmp_path):
    assert build_spec(write_page(tmp_path, body="## Setup\n"), default_seeds=5).config["seeds"] == [0, 1, 2, 3, 4]


HARDWARE = [
    ("cpu", False),
    ("CPU", False),
    ("", False),
    ("none", False),
    ("n/a", False),
    ("1x GPU (any CUDA card, < 1 GiB memory)", True),
    ("8x A100", True),
    ("one H100", True),
    ("RTX 4090", True),
    ("laptop", False),
]


@pytest.mark.parametrize("hardware,gpu", HARDWARE)
def test_needs_gpu(tmp_path, hardware, gpu):
    assert build_spec(write_page(tmp_path, hardware=hardware)).needs_gpu is gpu


@pytest.mark.parametrize("hardware", ["CPU only, no GPU", "cpu (GPU not needed)"])
def test_hardware_that_rules_out_a_gpu(tmp_path, hardware):
    assert build_spec(write_page(tmp_path, hardware=hardware)).needs_gpu is False


HYPERPARAMETERS = [
    ("Adam, lr 1e-3, batch 64, 15 epochs", {"learning_rate": 1e-3, "batch_size": 64, "epochs": 15}),
    ("lr=3e-4, batch_size=32, trained for 50 epochs", {"learning_rate": 3e-4, "batch_size": 32, "epochs": 50}),
    ("LR: 0.01, batch size of 128, 10 epochs", {"learning_rate": 0.01, "batch_size": 128, "epochs": 10}),
    ("nothing stated", {"learning_rate": 0.001, "batch_size": 64, "epochs": 20}),
]


@pytest.mark.parametrize("text,expected", HYPERPARAMETERS)
def test_hyperparameters_from_the_page(tmp_path, text, expected):
    hp = build_spec(write_page(tmp_path, body=f"## Setup\n\n- {text}\n")).config["hyperparameters"]
    assert {k: hp[k] for k in expected} == pytest.approx(expected)


def test_learning_rate_of(tmp_path):
    hp = build_spec(write_page(tmp_path, body="## Setup\n\n- learning rate of 3e-4\n")).config["hyperparameters"]
    assert hp["learning_rate"] == pytest.approx(3e-4)


# ------------------------------------------------------------------ manifest: a person's edits


def make_code(folder: Path) -> dict[str, str]:
    files = {
        "train.py": "print('train')\n",
        "model.py": "MODEL = 1\n",
        "config.yaml": "seeds: [0, 1, 2]\n",
        "run.sh": "#!/usr/bin/env bash\n",
        "lib/helpers.py": "X = 2\n",
    }
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return files


def stamp_manifest(folder: Path) -> None:
    written = {p.relative_to(folder).as_posix(): manifest.file_hash(p) for p in manifest.code_files(folder)}
    if (folder / "CONTEXT.md").exists():
        written["CONTEXT.md"] = manifest.file_hash(folder / "CONTEXT.md")
    manifest.write_manifest(folder, written, "built-in")


def test_without_a_manifest_every_file_is_a_persons(tmp_path):
    make_code(tmp_path)
    (tmp_path / "CONTEXT.md").write_text("notes\n", encoding="utf-8")
    assert manifest.human_changes(tmp_path) == [
        "CONTEXT.md",
        "config.yaml",
        "lib/helpers.py",
        "model.py",
        "run.sh",
        "train.py",
    ]


def test_human_changes_lists_edited_and_added_files_only(tmp_path):
    make_code(tmp_path)
    (tmp_path / "CONTEXT.md").write_text("notes\n", encoding="utf-8")
    stamp_manifest(tmp_path)
    assert manifest.human_changes(tmp_path) == []

    (tmp_path / "train.py").write_text("print('edited by a person')\n", encoding="utf-8")
    (tmp_path / "extra.py").write_text("NEW = 1\n", encoding="utf-8")
    (tmp_path / "CONTEXT.md").write_text("my own notes\n", encoding="utf-8")
    assert manifest.human_changes(tmp_path) == ["CONTEXT.md", "extra.py", "train.py"]


def test_human_changes_ignores_review_and_caches(tmp_path):
    make_code(tmp_path)
    stamp_manifest(tmp_path)
    (tmp_path / "REVIEW.md").write_text("# review\n", encoding="utf-8")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0\1")
    (tmp_path / ".train.py.swp").write_bytes(b"swap")
    assert manifest.human_changes(tmp_path) == []


def test_folder_hash_is_stable_and_independent_of_write_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    files = make_code(a)
    for rel in reversed(list(files)):
        (b / rel).parent.mkdir(parents=True, exist_ok=True)
        (b / rel).write_text(files[rel], encoding="utf-8")
    assert manifest.folder_hash(a) == manifest.folder_hash(b) == manifest.folder_hash(a)
    assert len(manifest.folder_hash(a)) == 64


@pytest.mark.parametrize("change", ["edit", "add", "rename", "delete", "edit-config"])
def test_folder_hash_changes_with_the_code(tmp_path, change):
    make_code(tmp_path)
    before = manifest.folder_hash(tmp_path)
    if change == "edit":
        (tmp_path / "model.py").write_text("MODEL = 2\n", encoding="utf-8")
    elif change == "add":
        (tmp_path / "new.py").write_text("", encoding="utf-8")
    elif change == "rename":
        (tmp_path / "model.py").rename(tmp_path / "model2.py")
    elif change == "delete":
        (tmp_path / "lib" / "helpers.py").unlink()
    elif change == "edit-config":
        (tmp_path / "config.yaml").write_text("seeds: [0]\n", encoding="utf-8")
    assert manifest.folder_hash(tmp_path) != before


@pytest.mark.parametrize(
    "name",
    ["REVIEW.md", "CONTEXT.md", "context.json", manifest.MANIFEST_NAME, ".hidden", "__pycache__/model.cpython-311.pyc"],
)
def test_folder_hash_ignores_what_does_not_run(tmp_path, name):
    make_code(tmp_path)
    before = manifest.folder_hash(tmp_path)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text("not code\n", encoding="utf-8")
    assert manifest.folder_hash(tmp_path) == before
