"""The documented `codegen.command` example, run for real: the aider CLI, exactly as docs/configuration.md writes
it (only the server's address swapped for a scripted endpoint on loopback), driven by exprun's Command
generator from the wiki root as `snakemake prepare_<slug>` runs it — one generate round and one fix round."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

import fake_llm
from exprun.core import config
from exprun.core.paths import Paths
from exprun.prepare.codegen import generate, rounds
from services import require_service

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "configuration.md"
DOCUMENTED_SERVER = "http://127.0.0.1:8000/v1"
SLUG = "digits-mlp-vs-logreg"
FIRST = "def main():\n    return 1 / 0\n\n\nif __name__ == '__main__':\n    main()\n"
FIXED = "def main():\n    return 1\n\n\nif __name__ == '__main__':\n    main()\n"


def documented_aider_command() -> list[str]:
    """`codegen.command` of the yaml example in docs/configuration.md that runs aider."""
    for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S):
        command = ((yaml.safe_load(block) or {}).get("codegen") or {}).get("command")
        if command and command[0] == "aider":
            return command
    raise AssertionError(f"{DOCS} has no codegen.command example that runs aider")


def find_aider() -> Path | None:
    """$EXPRUN_TEST_AIDER, else the .venv-aider that `make test` installs, else aider on PATH."""
    for candidate in (
        os.environ.get("EXPRUN_TEST_AIDER"),
        REPO / ".venv-aider" / "bin" / "aider",
        shutil.which("aider"),
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


@pytest.mark.slow
def test_the_documented_aider_command_writes_the_code_and_a_fix(example_wiki, llm, monkeypatch, tmp_path):
    aider = find_aider()
    require_service("aider", aider is not None, "scripts/install_test_agent.sh installs it; or set EXPRUN_TEST_AIDER")
    command = documented_aider_command()
    assert DOCUMENTED_SERVER in command, "the example's server address changed: update DOCUMENTED_SERVER"
    command = [llm.base_url if arg == DOCUMENTED_SERVER else arg for arg in command]
    monkeypatch.setenv("PATH", f"{aider.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: no model list download
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # aider's own files stay out of the person's home
    monkeypatch.chdir(example_wiki)  # where Snakemake runs: every exprun path is relative to here
    root = Path(".")
    settings = config.parse({"codegen": {"command": command, "timeout_s": 120}})
    # one scripted edit per round (aider may also ask the model to summarise its chat: the default reply answers)
    llm.script(fake_llm.whole_files_reply({"train.py": FIRST}))
    result = generate.generate(SLUG, settings, root)
    code = Paths(SLUG, root).code_dir
    assert result.generator == "aider" and (code / "train.py").read_text() == FIRST
    assert llm.user_messages()[0].startswith("# Round: generate")  # aider read the {prompt} file

    llm.script(fake_llm.whole_files_reply({"train.py": FIXED}))
    asked = len(llm.requests)
    entry = rounds.run_round(SLUG, settings, root, "fix-sanity", feedback="Traceback: ZeroDivisionError")
    assert entry["generator"] == "aider" and entry["written"] == ["train.py"]
    assert (code / "train.py").read_text() == FIXED
    fix_prompt = llm.user_messages()[asked]
    assert fix_prompt.startswith("# Round: fix-sanity") and "ZeroDivisionError" in fix_prompt
