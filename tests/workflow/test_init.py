"""`exprun init <dir>`: after it, plain `snakemake <target>` works in the wiki root (no --profile, no --cores),
`--profile remote` by name is the wiki's own copy, and hints repeat the profile the person typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_helpers import DEMO_SLUG, REPO, prepare

from snakemake_runs import in_wiki, init


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    """The person's ~/.config for this test (exprun init writes its pointer profiles under it)."""
    return tmp_path / "config home"


def test_init_makes_the_wiki_root_runnable_without_flags(wiki_root, config_home):
    done, text = init(wiki_root, config_home)
    assert done.returncode == 0, text
    assert str(REPO / "src" / "exprun" / "workflow_files" / "Snakefile") in (wiki_root / "Snakefile").read_text()
    listed, text = in_wiki(wiki_root, config_home=config_home, timeout=120)
    assert listed.returncode == 0, text
    assert f"{DEMO_SLUG}  planned     next: snakemake deploy_{DEMO_SLUG}   (" in text, "a bare snakemake lists them"
    dry, text = in_wiki(wiki_root, "-n", f"prepare_{DEMO_SLUG}", config_home=config_home, timeout=120)
    assert dry.returncode == 0 and "generate_code" in dry.stdout, text
    again, text = init(wiki_root, config_home)
    assert again.returncode == 0 and f"kept    {wiki_root / 'Snakefile'}" in text
    assert not [line for line in text.splitlines() if line.startswith(("wrote", "made"))], "init again writes nothing"


def test_init_makes_a_wiki_of_an_empty_folder_and_refuses_a_foreign_snakefile(wiki_root, tmp_path, config_home):
    empty = tmp_path / "empty"
    done, text = init(empty, config_home)
    assert done.returncode == 0, text
    listed, text = in_wiki(empty, config_home=config_home, timeout=120)
    assert listed.returncode == 0 and "No experiment pages in wiki/experiments" in text, text
    (wiki_root / "Snakefile").write_text("rule all:\n    input: []\n")
    done, text = init(wiki_root, config_home)
    assert done.returncode == 1 and text.startswith("exprun: ") and "is not exprun's" in text
    assert len(text.strip().splitlines()) == 1 and (wiki_root / "Snakefile").read_text() == "rule all:\n    input: []\n"


def test_a_profile_name_is_the_wiki_s_own_copy(wiki_root, tmp_path, config_home):
    assert init(wiki_root, config_home)[0].returncode == 0
    copy = wiki_root / "profiles" / "remote"
    (copy / "exprun.yaml").write_text((copy / "exprun.yaml").read_text() + "full_via: jobs\n")  # a person's edit
    dry, text = in_wiki(
        wiki_root, "--profile", "remote", "-n", f"full_{DEMO_SLUG}", config_home=config_home, timeout=120
    )
    assert dry.returncode == 0, text
    assert "Using profile" in text and f"Profile remote: {copy / 'config.yaml'}" in text
    assert "rule start_seed_jobs" in text, "the wiki's copy decided how full_<slug> runs"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    elsewhere, text = in_wiki(outside, "--profile", "remote", "-n", config_home=config_home, timeout=60)
    assert elsewhere.returncode != 0 and "--profile path/to/profiles/remote" in text and "Traceback" not in text


def test_hints_repeat_the_profile_the_person_typed(wiki_root, config_home):
    prepare(wiki_root)
    assert init(wiki_root, config_home)[0].returncode == 0
    listed, text = in_wiki(wiki_root, "--profile", "local", config_home=config_home, timeout=120)
    assert f"next: snakemake --profile local deploy_{DEMO_SLUG}   (" in text, text
    gate, text = in_wiki(wiki_root, "--profile", "local", f"deploy_{DEMO_SLUG}", config_home=config_home, timeout=300)
    assert gate.returncode != 0 and "Approval needed" in text, text
    assert f"then run the same command again:\n  snakemake --profile local deploy_{DEMO_SLUG}\n" in text
    assert "rule sanity_check" not in text, "the prepared state made with the repository's Snakefile still holds"
