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
def wiki(generated_wiki: Path) -> Path:
    return generated_wiki


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


AGENT = """import pathlib, sys
target = pathlib.Path(sys.argv[1])
(target / "train.py").write_text("import json\\nprint('my own program')\\n")
"""


def regenerate_with_an_agent(root: Path, tmp_path: Path) -> None:
    """The folder was the built-in recipe's; then a coding agent wrote its own train.py."""
    import sys

    from exprun.prepare.codegen import generate

    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    command = [sys.executable, str(agent), "{target}"]
    generate.generate(SLUG, config.load(root, override={"codegen": {"command": command}}), root)


def test_the_recipe_notes_show_only_while_the_code_is_the_recipes(wiki, tmp_path):
    paths = Paths(SLUG, wiki)
    context = json.loads(paths.context.read_text())
    paths.context.write_text(json.dumps({**context, "notes": ["write load_data() in data.py"]}))
    assert "- write load_data() in data.py" in gate_text(wiki)
    train = paths.code_dir / "train.py"
    train.write_text(train.read_text() + "\n# my change\n")
    text = gate_text(wiki)
    assert "load_data()" not in text
    assert "(the built-in recipe's notes are not shown: train.py is not as the recipe wrote it)" in text


def test_an_agents_program_is_not_described_by_the_recipe_notes(wiki, tmp_path):
    page = Paths(SLUG, wiki).page
    page.write_text(page.read_text().replace("metrics: [accuracy, macro F1]", "metrics: [accuracy, perplexity]"))
    regenerate_with_an_agent(wiki, tmp_path)
    notes = json.loads(Paths(SLUG, wiki).context.read_text())["notes"]
    assert notes == ["metrics the built-in recipe does not compute: perplexity"]
    text = gate_text(wiki)
    assert "built-in recipe does not compute" not in text
    assert "(the built-in recipe's notes are not shown: data.py (deleted), model.py (deleted)" in text


def test_recipe_files_an_agent_does_not_use_leave_the_folder_and_the_hash(wiki, tmp_path):
    from exprun.trust import integrity

    regenerate_with_an_agent(wiki, tmp_path)
    code = Paths(SLUG, wiki).code_dir
    files = sorted(rel for rel, _ in integrity.code_files(code))
    assert files == ["config.yaml", "requirements.txt", "run.sh", "train.py"]
    assert "removed before hashing — the built-in recipe's files nothing here uses: data.py, model.py, utils.py" in (
        gate_text(wiki)
    )


def test_a_recipe_file_a_person_edited_or_the_new_code_uses_is_never_removed(wiki, tmp_path):
    from exprun.prepare.codegen import leftovers

    paths = Paths(SLUG, wiki)
    (paths.code_dir / "model.py").write_text((paths.code_dir / "model.py").read_text() + "# mine\n")
    (paths.code_dir / "train.py").write_text("import utils\nprint('rewritten by a person')\n")
    assert leftovers.remove(paths) == ["data.py"]
    assert (paths.code_dir / "model.py").read_text().endswith("# mine\n") and (paths.code_dir / "utils.py").exists()


def test_the_recipe_as_written_loses_nothing(wiki):
    from exprun.prepare.codegen import leftovers

    assert leftovers.remove(Paths(SLUG, wiki)) == []


def test_no_criteria_is_said_as_the_default_the_verdict_uses(wiki):
    rewrite_config(wiki, success_criteria=None)
    assert "9. Criteria    none in config.yaml: the default — accuracy above the baseline's" in gate_text(wiki)
