"""The installed /exp-run skill names only commands that exist, and the cheap ones run on the example wiki exactly as
the skill writes them (from the wiki root, with exprun's `snakemake` and `exprun` on the PATH it names)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workflow_helpers import DEMO_SLUG, output

from skill_text import commands, program, snakemake_targets

STAND_IN = b"---\ndescription: the wiki's own runner\nargument-hint: <experiment-slug>\n---\n\n# /exp-run\n"
BIN = Path(sys.executable).absolute().parent
# Targets whose dry run needs no deployed run (collect_/check_ need a running page: they are checked by name).
DRY_RUN = ("prepare_", "deploy_", "full_", "status", "collect_ready")


def typed(root: Path, words: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """A command of the skill as the agent types it in the wiki root."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(words, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def test_every_command_the_skill_names_exists_and_the_cheap_ones_run(wiki_root):
    skill = wiki_root / ".claude" / "skills" / "exp-run" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_bytes(STAND_IN)
    done = typed(wiki_root, ["exprun", "install-skill", str(wiki_root)])
    assert done.returncode == 0, output(done)
    named = commands(skill.read_text(), DEMO_SLUG, str(wiki_root))
    snakemakes = [words for words in named if program(words) == "snakemake"]
    targets = {word.split("_")[0] for words in snakemakes for word in words[1:] if not word.startswith("-")}
    assert {"prepare", "deploy", "collect", "full", "status"} <= targets
    assert any("collect_ready" in words for words in snakemakes)

    listed = typed(wiki_root, ["snakemake", "--list-rules"])
    assert listed.returncode == 0, output(listed)
    rules = set(listed.stdout.split())
    for words in snakemakes:
        missing = [t for t in snakemake_targets(words) if t not in rules]
        assert not missing, f"the skill names `{' '.join(words)}`; the workflow has no {missing}"

    local = next(w for w in snakemakes if w[-1] == f"prepare_{DEMO_SLUG}")
    prepared = typed(wiki_root, local)  # phase 1 for real: code, dataset, review, sanity run
    assert prepared.returncode == 0, output(prepared)
    for verb in (["check-code", DEMO_SLUG], ["targets"], ["status"]):
        done = typed(wiki_root, ["exprun", *verb])
        assert done.returncode == 0, output(done)
    assert "against the run contract" in typed(wiki_root, ["exprun", "check-code", DEMO_SLUG]).stdout

    for words in snakemakes:
        if "remote" in " ".join(words) or not all(t.startswith(DRY_RUN) for t in snakemake_targets(words)):
            continue  # the server's profile needs config/server.yaml; collect needs a running page
        dry = typed(wiki_root, [*words, "-n"])
        assert dry.returncode == 0, f"{' '.join(words)} -n:\n{output(dry)}"
    review = typed(wiki_root, [*local[:-1], "--config", "review=true", "-n", local[-1]])
    assert review.returncode == 0, output(review)  # --review as the skill spells it

    gate = typed(wiki_root, next(w for w in snakemakes if w[-1] == f"deploy_{DEMO_SLUG}"))
    assert gate.returncode == 1, "before an approval the deploy command stops at the gate, as the skill says"
    assert f"exprun approve {DEMO_SLUG}" in output(gate)
    assert (wiki_root / "experiments" / "state" / DEMO_SLUG / "GATE.md").is_file()

    done = typed(wiki_root, ["exprun", "install-skill", str(wiki_root), "--uninstall"])
    assert done.returncode == 0, output(done)
    assert skill.read_bytes() == STAND_IN
