"""The run contract: a folder that breaks it stops before the gate with what is missing; the result schema;
the automatic fix says it cannot apply rather than relaunching an unchanged run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from exprun.core import config
from exprun.core.errors import SanityError
from exprun.core.paths import Paths
from exprun.experiment.experiment_config import ExperimentConfig
from exprun.logs.monitor import Anomaly
from exprun.prepare import contract, sanity
from exprun.prepare.codegen import generate
from exprun.run import autofix

SLUG = "digits-mlp-vs-logreg"


def check_code(root):
    return subprocess.run(
        [sys.executable, "-m", "exprun", "check-code", SLUG, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_built_in_recipe_keeps_the_contract(example_wiki):
    generate.generate(SLUG, config.parse({}), example_wiki)
    found = contract.folder_checks(SLUG, example_wiki, config.parse({}))
    assert found.ok, found.problems()
    assert set(contract.REQUIRED_FLAGS) | set(contract.OPTIONAL_FLAGS) <= set(found.flags)
    done = check_code(example_wiki)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ flag --sanity: listed by --help" in done.stdout and "no sanity run yet" in done.stdout


def test_a_folder_without_the_flags_is_stopped_before_anything_runs(example_wiki):
    generate.generate(SLUG, config.parse({}), example_wiki)
    code = Paths(SLUG, example_wiki).code_dir
    (code / "run.sh").write_text(
        '#!/usr/bin/env bash\ncd "$(dirname "$0")"\n'
        'exec python3 -c "import sys; print(\'usage: sim.py [--seed N] [--steps N]\')" "$@"\n'
    )
    done = check_code(example_wiki)
    assert done.returncode == 1
    assert "✗ flag --sanity: not in `run.sh --help`" in done.stdout and "✓ flag --seed" in done.stdout
    with pytest.raises(SanityError) as stopped:
        sanity.run_sanity(SLUG, config.parse({}), example_wiki)
    assert "breaks the run contract (docs/run-contract.md); nothing ran" in str(stopped.value)
    assert "flag --results-dir" in str(stopped.value)
    assert not Paths(SLUG, example_wiki).sanity_log.exists(), "nothing ran"


@pytest.mark.parametrize(
    "edit,phrase",
    [
        (lambda c: c.pop("seeds"), "needs `seeds:`"),
        (lambda c: c.update(primary_metric="bleu"), "`primary_metric: bleu` must be one of `metrics`"),
        (lambda c: c.update(progress="sometimes"), "must be one of loss, steps, none"),
        (lambda c: c.update(success_criteria=["beat it"]), "each with `metric:`"),
        (lambda c: c.update(baseline_results={"source": "paper"}), "must be `{source:"),
        (lambda c: c.update(hardware="lots"), "✗ config.yaml hardware: `hardware: lots` is not understood"),
    ],
)
def test_config_keys_exprun_reads_are_checked(example_wiki, edit, phrase):
    import yaml

    generate.generate(SLUG, config.parse({}), example_wiki)
    path = Paths(SLUG, example_wiki).code_dir / "config.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    done = check_code(example_wiki)
    assert done.returncode == 1 and phrase in done.stdout


@pytest.mark.parametrize(
    "data,phrase",
    [
        ({"seed": 0}, "'metrics' is a required property"),
        ({"seed": "0", "metrics": {"accuracy": 0.9}}, "seed: '0' is not of type 'integer'"),
        ({"seed": 0, "metrics": {"accuracy": "high"}}, "metrics.accuracy: 'high' is not of type 'number', 'null'"),
        ({"seed": 0, "metrics": {}}, "should be non-empty"),
        ({"seed": 0, "metrics": {"a": 1}, "steps": -1}, "steps: -1 is less than the minimum of 0"),
    ],
)
def test_result_schema_names_the_field(data, phrase):
    assert any(phrase in p for p in contract.result_problems(data)), contract.result_problems(data)


def test_a_conforming_result_has_no_problems(tmp_path):
    good = {
        "slug": "x",
        "seed": 1,
        "metrics": {"accuracy": 0.9, "f1": None},
        "baseline_metrics": {"accuracy": 0.8},
        "steps": 10,
        "wall_time_s": 1.5,
        "run_id": "r",
        "code_hash": "h",
        "extra_key": [1],
    }
    assert contract.result_problems(good) == []
    path = tmp_path / "seed_1.json"
    path.write_text(json.dumps(good))
    assert contract.result_check(
        path, ExperimentConfig.from_mapping({"metrics": ["accuracy", "loss"]})
    ).detail.endswith("lacks loss (named in config.yaml metrics)")


@pytest.mark.parametrize(
    "kind,config_hp,flags,reason",
    [
        ("nan_loss", {"learning_rate": 0.01}, ["--seed", "--sanity"], "does not take --resume, --lr"),
        ("oom", {"batch_size": 64}, ["--seed", "--resume"], "does not take --batch-size"),
        ("nan_loss", {}, ["--resume", "--lr"], "config.yaml has no hyperparameters.learning_rate"),
        ("nan_loss", {"learning_rate": 0.01}, ["--resume", "--lr"], ""),
        ("nan_loss", {"learning_rate": 0.01}, None, ""),
    ],
)
def test_the_automatic_fix_says_when_it_cannot_apply(kind, config_hp, flags, reason):
    anomaly = Anomaly(kind, "loss=nan")
    args, _ = autofix.plan_fix(
        anomaly, ExperimentConfig.from_mapping({"hyperparameters": config_hp}), config.parse({}), has_checkpoint=True
    )
    found = autofix.blocked(args, anomaly, ExperimentConfig.from_mapping({"hyperparameters": config_hp}), flags)
    assert (reason in found) if reason else found == ""


def test_the_help_probe_leaves_no_task_status_and_no_tasks_is_an_error(example_wiki):
    """`run.sh --help` during a run must not overwrite a failed task's status; a config without seeds runs nothing."""
    generate.generate(SLUG, config.parse({}), example_wiki)
    tasks = example_wiki / "logs" / f"exp-{SLUG}.tasks"
    tasks.mkdir(parents=True)
    (tasks / "0.exit").write_text("1\n")  # a real run's failed seed 0
    env = {**__import__("os").environ, "EXPRUN_SEEDS": "0"}
    done = subprocess.run(
        ["bash", f"experiments/code/{SLUG}/run.sh", "--help"],
        cwd=example_wiki,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "--sanity" in done.stdout
    assert (tasks / "0.exit").read_text() == "1\n"
    path = Paths(SLUG, example_wiki).code_dir / "config.yaml"
    path.write_text(path.read_text().replace("seeds:\n- 0\n- 1\n- 2\n", "seeds: []\n"))
    empty = subprocess.run(
        ["bash", f"experiments/code/{SLUG}/run.sh"], cwd=example_wiki, capture_output=True, text=True, timeout=120
    )
    assert empty.returncode == 2 and "no tasks to run" in empty.stderr
