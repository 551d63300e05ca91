"""codegen.command from where Snakemake runs it (the wiki root, `root = .`): the agent runs inside a working
copy, so `{prompt}`, `{context}`, `{target}` (and `$EXPRUN_PROMPT`…) are absolute; and messages name the agent,
not the shell or interpreter around it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from exprun.core import config
from exprun.core.errors import ExprunError
from exprun.core.paths import Paths
from exprun.prepare.codegen import generate, rounds
from exprun.prepare.codegen.program import program_name

SLUG = "digits-mlp-vs-logreg"

# Opens what it is given from its own working folder, as any agent does, and writes what it saw as train.py.
AGENT = r"""
import json, os, pathlib, sys
prompt, context, target = sys.argv[1:4]
seen = {"args": [prompt, context, target],
        "env": [os.environ["EXPRUN_PROMPT"], os.environ["EXPRUN_CONTEXT"], os.environ["EXPRUN_TARGET"]],
        "prompt_head": pathlib.Path(prompt).read_text()[:40],
        "context_slug": json.loads(pathlib.Path(context).read_text())["experiment"]["slug"],
        "round": os.environ["EXPRUN_ROUND"]}
pathlib.Path(target, "train.py").write_text("# " + json.dumps(seen) + "\n")
"""


@pytest.fixture
def at_wiki_root(example_wiki, monkeypatch):
    """The example wiki as Snakemake sees it: the working directory, with relative paths from it."""
    monkeypatch.chdir(example_wiki)
    return Path(".")


def _seen(root: Path) -> dict:
    return json.loads((Paths(SLUG, root).code_dir / "train.py").read_text()[2:])


def test_the_agent_gets_absolute_paths_in_every_round(at_wiki_root, tmp_path):
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    settings = config.parse(
        {"codegen": {"command": [sys.executable, str(script), "{prompt}", "{context}", "{target}"]}}
    )
    generate.generate(SLUG, settings, at_wiki_root)
    seen = _seen(at_wiki_root)
    assert all(Path(p).is_absolute() for p in seen["args"]) and seen["env"] == seen["args"]
    assert seen["prompt_head"].startswith("# Round: generate") and seen["context_slug"] == SLUG
    entry = rounds.run_round(SLUG, settings, at_wiki_root, "fix-sanity", feedback="Traceback: ZeroDivisionError")
    seen = _seen(at_wiki_root)
    assert entry["written"] == ["train.py"] and seen["round"] == "fix-sanity"
    assert seen["prompt_head"].startswith("# Round: fix-sanity") and all(Path(p).is_absolute() for p in seen["args"])


def test_messages_and_records_name_the_agent_not_its_wrapper(at_wiki_root, tmp_path):
    script = tmp_path / "my-agent.sh"
    script.write_text("echo 'no model configured' >&2\nexit 2\n")
    settings = config.parse({"codegen": {"command": ["bash", str(script), "{prompt}"]}})
    with pytest.raises(ExprunError, match=r"^codegen.command my-agent.sh exited with 2 ") as failed:
        generate.generate(SLUG, settings, at_wiki_root)
    assert "no model configured" in str(failed.value)
    assert rounds.history(SLUG, at_wiki_root)[-1]["generator"] == "my-agent.sh"


def test_an_agent_that_writes_nothing_is_quoted_in_the_stop(at_wiki_root, tmp_path):
    """aider exits 0 when it cannot read its message file: the stop says what it printed."""
    script = tmp_path / "quiet-agent.sh"
    script.write_text("echo 'Error reading message file: prompt.md'\n")
    settings = config.parse({"codegen": {"command": ["bash", str(script), "{prompt}"]}})
    with pytest.raises(ExprunError, match="quiet-agent.sh returned no files") as stopped:
        generate.generate(SLUG, settings, at_wiki_root)
    assert str(stopped.value).endswith("the end of its output:\nError reading message file: prompt.md")


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["aider", "--yes", "--message-file", "{prompt}"], "aider"),
        (["/opt/agents/bin/aider", "{prompt}"], "aider"),
        (["bash", "scripts/agent.sh", "{prompt}"], "agent.sh"),
        (["bash", "-c", 'cd {target} && OPENAI_API_KEY=x aider --message "a|b" | tee log'], "aider"),
        (["bash", "-lc", "source ~/venvs/agent/bin/activate; claude -p {prompt}"], "claude"),
        (["/usr/bin/python3", "-u", "agent.py", "{prompt}"], "agent.py"),
        (["python", "-m", "aider", "{prompt}"], "aider"),
        (["env", "OPENAI_API_KEY=x", "aider"], "aider"),
        (["timeout", "600", "aider"], "aider"),
        (["uv", "run", "aider"], "aider"),
        # only what stands before the program is skipped, never the agent's own arguments
        (["env", "K=V", "bash", "-c", "cd /x && aider --yes"], "aider"),
        (["timeout", "3600", "bash", "-c", "aider --yes"], "aider"),
        (["nice", "-n", "10", "aider"], "aider"),
        (["env", "-u", "FOO", "aider"], "aider"),
        (["env", "-i", "--chdir", "/work", "HOME=/h", "aider", "--model", "m"], "aider"),
        (["timeout", "-k", "30", "--signal", "INT", "1h", "aider", "-m", "x"], "aider"),
        (["nohup", "nice", "-10", "stdbuf", "-oL", "-e", "0", "aider"], "aider"),
        (["uv", "run", "--with", "aider-chat", "aider", "--yes"], "aider"),
        (["uv", "run", "python", "-m", "aider", "--yes"], "aider"),
        (["bash", "-o", "pipefail", "-c", "cd /x; export K=1; claude -p x | tee log"], "claude"),
        (["bash", "--login", "agent.sh", "-c", "x"], "agent.sh"),
        (["env", "-S", "aider --yes"], "aider"),
        (["python3", "-c", "import agent"], "python3"),
        (["bash"], "bash"),
        (["env"], "env"),
        (["bash", "-c", "'unterminated"], "bash"),
    ],
)
def test_the_program_of_a_command(command, name):
    assert program_name(command) == name
