"""The gate describes the program as it is now, not the recipe that once wrote the folder (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from exprun.core import config
from exprun.core.paths import Paths
from exprun.gate.checklist import checklist

SLUG = "digits-mlp-vs-logreg"


@pytest.fixture
def wiki(example_wiki: Path) -> Path:
    from exprun.prepare.codegen import generate

    generate.generate(SLUG, config.load(example_wiki), example_wiki)
    return example_wiki


def gate_text(root: Path) -> str:
    return checklist(SLUG, config.load(root), root, "headline")


def line(text: str, label: str) -> str:
    return next(row for row in text.splitlines() if label in row)


def rewrite_config(root: Path, **changes) -> None:
    """What an agent does when it rewrites the program: a config.yaml of its own."""
    path = Paths(SLUG, root).code_dir / "config.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_settings_show_no_hyperparameters_for_a_program_that_does_not_train(wiki):
    rewrite_config(wiki, hyperparameters=None)
    settings = line(gate_text(wiki), "3. Settings")
    assert "None" not in settings and "lr=" not in settings
    assert "(no hyperparameters)" in settings and "seeds=" in settings


def test_settings_show_the_hyperparameters_the_config_has(wiki):
    rewrite_config(wiki, hyperparameters={"learning_rate": 0.01})
    settings = line(gate_text(wiki), "3. Settings")
    assert "lr=0.01" in settings and "batch_size" not in settings and "epochs" not in settings


def test_the_baseline_is_named_as_on_the_page_even_when_the_config_dropped_it(wiki):
    rewrite_config(wiki, baseline=None)
    baseline = line(gate_text(wiki), "8. Baseline")
    assert "names no baseline" not in baseline
    assert "“multinomial logistic regression” (page: baseline)" in baseline
    assert "after the sanity run" in baseline


def test_a_baseline_under_setup_is_the_pages_baseline(wiki):
    page = Paths(SLUG, wiki).page
    text = page.read_text()
    assert 'baseline: "multinomial logistic regression"\n' in text and "setup:\n" in text
    text = text.replace('baseline: "multinomial logistic regression"\n', "")
    page.write_text(text.replace("setup:\n", 'setup:\n  baseline: "a linear SVM"\n', 1))
    rewrite_config(wiki, baseline=None)
    assert "“a linear SVM” (page: setup.baseline)" in line(gate_text(wiki), "8. Baseline")


def write_sanity(root: Path, seed_file: dict) -> None:
    paths = Paths(SLUG, root)
    paths.sanity_results.mkdir(parents=True, exist_ok=True)
    (paths.sanity_results / "seed_0.json").write_text(json.dumps(seed_file))
    paths.sanity.write_text(json.dumps({"status": "passed", "wall_time_s": 1.0, "seed": 0}))


def test_the_baseline_line_says_whether_the_code_ran_it(wiki):
    rewrite_config(wiki, baseline=None)
    write_sanity(wiki, {"metrics": {"accuracy": 0.9}, "baseline_metrics": {"accuracy": 0.95}})
    assert "run by the code: the sanity run wrote baseline_metrics {'accuracy': 0.95}" in line(
        gate_text(wiki), "8. Baseline"
    )
    write_sanity(wiki, {"metrics": {"accuracy": 0.9}})
    assert "NOT RUN by this code" in line(gate_text(wiki), "8. Baseline")


def test_a_stale_approval_shows_what_changed_in_each_file(wiki):
    from exprun.core.errors import GateError
    from exprun.gate import approval

    approval.approve(SLUG, wiki, who="ana")
    model = Paths(SLUG, wiki).code_dir / "model.py"
    model.write_text(model.read_text().replace("import", "import  # changed", 1) + "RISKY = True\n")
    with pytest.raises(GateError) as err:
        approval.verify(SLUG, config.load(wiki), wiki)
    message = str(err.value)
    assert "these files changed after it was approved — model.py" in message
    assert "    +RISKY = True" in message and "    --- approved/model.py" in message
    whole = Paths(SLUG, wiki).approval_diff
    assert f"the whole diff: {whole}" in message and "+RISKY = True" in whole.read_text()


def test_a_long_change_is_cut_short_in_the_message_and_whole_in_the_file(wiki):
    from exprun.core.errors import GateError
    from exprun.gate import approval

    approval.approve(SLUG, wiki, who="ana")
    model = Paths(SLUG, wiki).code_dir / "model.py"
    model.write_text(model.read_text() + "".join(f"X{i} = {i}\n" for i in range(100)))
    with pytest.raises(GateError) as err:
        approval.verify(SLUG, config.load(wiki), wiki)
    message = str(err.value)
    assert "more lines of model.py" in message and "+X99 = 99" not in message
    assert "+X99 = 99" in Paths(SLUG, wiki).approval_diff.read_text()
