"""`exprun init <wiki-root>`: after it, plain `snakemake <target>` works from the wiki root."""

from __future__ import annotations

import subprocess
import sys

from workflow_helpers import DEMO_SLUG, REPO


def test_init_makes_the_wiki_root_runnable(wiki_root):
    done = subprocess.run([sys.executable, "-m", "exprun", "init", str(wiki_root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(REPO / "src" / "exprun" / "workflow_files" / "Snakefile") in (wiki_root / "Snakefile").read_text()
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-c1", "-n", f"prepare_{DEMO_SLUG}"],
        cwd=wiki_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "generate_code" in dry.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "snakemake", "-c1"], cwd=wiki_root, capture_output=True, text=True, timeout=120
    )
    assert f"{DEMO_SLUG}  planned     next:" in listed.stdout + listed.stderr, "bare snakemake lists the experiments"
    again = subprocess.run([sys.executable, "-m", "exprun", "init", str(wiki_root)], capture_output=True, text=True)
    assert again.returncode == 0, "init is idempotent"


def test_init_refuses_foreign_snakefile_and_non_wiki(wiki_root, tmp_path):
    (wiki_root / "Snakefile").write_text("rule all:\n    input: []\n")
    done = subprocess.run([sys.executable, "-m", "exprun", "init", str(wiki_root)], capture_output=True, text=True)
    assert done.returncode == 1 and "is not exprun's" in done.stderr
    assert (wiki_root / "Snakefile").read_text() == "rule all:\n    input: []\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "exprun", "init", str(empty)], capture_output=True, text=True)
    assert done.returncode == 1 and "no wiki/ folder" in done.stderr
