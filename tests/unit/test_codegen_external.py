"""codegen.command: an external generator (a coding agent CLI, say) receives the context and the folder."""

from __future__ import annotations

import json
import sys

import pytest

from exprun import config
from exprun.codegen import generate, manifest
from exprun.errors import ExprunError

SLUG = "digits-mlp-vs-logreg"
GENERATOR = """
import json, pathlib, sys
context, target = json.loads(pathlib.Path(sys.argv[1]).read_text()), pathlib.Path(sys.argv[2])
(target / "train.py").write_text("# for " + context["experiment"]["slug"] + "\\n")
(target / "run.sh").write_text("#!/usr/bin/env bash\\necho " + context["idea"]["slug"] + "\\n")
"""


def settings(command):
    return config.parse({"codegen": {"command": command}})


def test_external_generator_gets_context_and_folder(example_wiki, tmp_path):
    script = tmp_path / "agent.py"
    script.write_text(GENERATOR)
    result = generate.generate(SLUG, settings([sys.executable, str(script), "{context}", "{target}"]), example_wiki)
    code = example_wiki / "experiments" / "code" / SLUG
    assert (code / "train.py").read_text() == f"# for {SLUG}\n"
    assert "small-mlp-beats-linear-on-digits" in (code / "run.sh").read_text()
    assert result.generator == sys.executable
    assert set(manifest.read_manifest(code)["files"]) >= {"train.py", "run.sh"}
    context = json.loads((example_wiki / "experiments" / "state" / SLUG / "context.json").read_text())
    assert context["papers"][0]["slug"] == "rumelhart-1986-backprop"


def test_external_generator_failures_are_clear(example_wiki, tmp_path):
    with pytest.raises(ExprunError, match="not found"):
        generate.generate(SLUG, settings(["no-such-agent-xyz", "{context}"]), example_wiki)
    broken = tmp_path / "broken.py"
    broken.write_text("import sys; print('model refused'); sys.exit(3)\n")
    with pytest.raises(ExprunError, match="exited with 3") as caught:
        generate.generate(SLUG, settings([sys.executable, str(broken)]), example_wiki)
    assert "model refused" in str(caught.value)
    lazy = tmp_path / "lazy.py"
    lazy.write_text("pass\n")
    with pytest.raises(ExprunError, match="returned no files"):
        generate.generate(SLUG, settings([sys.executable, str(lazy)]), example_wiki)
