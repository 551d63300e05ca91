"""What the page decides (criteria, seeds, metrics, baseline, dataset) survives a generator's config.yaml:
left out → added from the page, changed → a `!! CHECK` line at the gate (old → new)."""

from __future__ import annotations

import json
import sys

import pytest

import research_page as rp
from exprun.core import config
from exprun.core.paths import Paths
from exprun.gate import checklist
from exprun.prepare.codegen import generate, manifest, page_decisions, rounds

AGENT = r"""
import json, pathlib, sys
target, files = pathlib.Path(sys.argv[1]), json.loads(pathlib.Path(sys.argv[2]).read_text())
for rel, content in files.items():
    (target / rel).write_text(content)
"""


@pytest.fixture
def generate_with(tmp_path, example_wiki):
    """generate(files the agent writes) on a wiki with the research page; returns (wiki, code folder)."""
    wiki = rp.make_wiki(tmp_path / "wiki", example_wiki)
    script, plan = tmp_path / "agent.py", tmp_path / "files.json"
    script.write_text(AGENT)
    settings = config.parse({"codegen": {"command": [sys.executable, str(script), "{target}", str(plan)]}})

    def run(files: dict[str, str]):
        plan.write_text(json.dumps(files))
        generate.generate(rp.SLUG, settings, wiki)
        return wiki, Paths(rp.SLUG, wiki).code_dir

    return run


def without(keys: tuple[str, ...]) -> str:
    return "".join(line + "\n" for line in rp.CONFIG.splitlines() if line.split(":")[0] not in keys)


def test_keys_the_generator_leaves_out_come_from_the_page(generate_with):
    wiki, code = generate_with(rp.files(**{"config.yaml": without(("success_criteria", "dataset"))}))
    text = (code / "config.yaml").read_text()
    assert text.startswith(without(("success_criteria", "dataset")))  # the generator's lines, untouched
    added = text.split("# Added by exprun", 1)[1]
    assert "success_criteria:" in added and "min_delta: 0.1" in added  # the page's "by at least 10 points"
    assert "path: data/blobs.csv" in added
    assert "config.yaml" not in manifest.human_changes(code)  # exprun's addition is not a person's edit
    (entry,) = rounds.history(rp.SLUG, wiki)
    assert entry["from_page"] == ["dataset", "success_criteria"]
    assert "its config.yaml lacked dataset, success_criteria: added as the page says" in rounds.describe(entry)
    criteria_line = checklist.checklist(rp.SLUG, config.parse({}), wiki, "GATE").split("9. Criteria", 1)[1]
    assert "accuracy" in criteria_line.splitlines()[0]  # the gate shows the page's criterion, not "[]"


def test_a_generator_that_changes_the_design_gets_a_check_line(generate_with):
    changed = rp.CONFIG.replace("metrics: [accuracy]", "metrics: [f1_macro]").replace(
        "success_criteria: [{metric: accuracy, vs: baseline, min_delta: 0.1}]", "success_criteria: []"
    )
    wiki, code = generate_with(rp.files(**{"config.yaml": changed}))
    gate = checklist.checklist(rp.SLUG, config.parse({}), wiki, "GATE")
    checks = [line for line in gate.splitlines() if line.startswith("!! CHECK")]
    assert any("config.yaml metrics: read from the page [accuracy] → the file [f1_macro]" in line for line in checks)
    assert any("config.yaml success_criteria: read from the page [{metric: accuracy" in line for line in checks)
    (code / "config.yaml").write_text(changed + "# a person's note\n")  # now the person's file: their decision
    gate = checklist.checklist(rp.SLUG, config.parse({}), wiki, "GATE")
    assert not [line for line in gate.splitlines() if line.startswith("!! CHECK") and "read from the page" in line]


def test_the_recipe_s_defaults_are_not_the_page_s_decisions(generate_with):
    """The page names no seeds (exprun's default is 3): a generator's one seed is not a change of design,
    and a seed list is never added from a default."""
    wiki, code = generate_with(rp.files(**{"config.yaml": rp.CONFIG.replace("seeds: [0, 1, 2]", "seeds: [0]")}))
    gate = checklist.checklist(rp.SLUG, config.parse({}), wiki, "GATE")
    assert not [line for line in gate.splitlines() if "config.yaml seeds: read from the page" in line]
    wiki, code = generate_with(rp.files(**{"config.yaml": without(("seeds",))}))
    assert "seeds" not in (code / "config.yaml").read_text()


def test_the_addition_keeps_who_wrote_each_file(tmp_path):
    """A recipe's data.py beside an agent's config.yaml: after exprun adds the page's keys, data.py is still the
    recipe's (what the gate's notes and the leftover cleanup go by)."""
    (tmp_path / "data.py").write_text("def load_data(): ...\n")
    (tmp_path / "config.yaml").write_text("seeds: [0]\n")
    files = {rel: manifest.file_hash(tmp_path / rel) for rel in ("data.py", "config.yaml")}
    manifest.write_manifest(tmp_path, files, "agent", {"data.py": "built-in", "config.yaml": "agent"})
    assert page_decisions.complete(tmp_path, {"dataset": {"path": "data/x.csv"}}) == ["dataset"]
    assert manifest.written_by(tmp_path) == {"data.py": "built-in", "config.yaml": "agent"}
    assert manifest.human_changes(tmp_path) == []


def test_the_gate_names_the_agent_that_wrote_the_code_instead_of_the_recipe_s_notes(generate_with):
    wiki, _ = generate_with(rp.files())
    gate = checklist.checklist(rp.SLUG, config.parse({}), wiki, "GATE")
    assert "(the built-in recipe's notes are not shown: agent.py wrote this code)" in gate
    assert "write load_data() in data.py" not in gate
