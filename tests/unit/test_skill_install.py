"""`exprun install-skill`: exprun's /exp-run goes into a wiki laid out like AutoSci, the wiki's own comes back
byte for byte, and no edited or foreign file is overwritten without --force."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from exprun.cli import build_parser, main
from exprun.cli import skill as skill_mod
from skill_text import commands, program

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wiki"
SLUG = "digits-mlp-vs-logreg"
# A stand-in for the wiki's own skill (our words, its shape): what --uninstall must give back unchanged.
ORIGINAL = (
    "---\r\ndescription: the wiki's own experiment runner\r\nargument-hint: <experiment-slug> [--collect]\r\n---\r\n"
    "\r\n# /exp-run\r\n\r\nThe wiki's own steps. \u2014 no trailing newline"
).encode()


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def exprun(capsys):
    """`exprun <args>` as a person types it, in this process (the CLI's own entry point, its exit status)."""

    def run(*args: str) -> Done:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


@pytest.fixture
def wiki(tmp_path: Path) -> Path:
    """examples/wiki with the wiki project's layout: .claude/skills/exp-run/SKILL.md holds the wiki's own skill."""
    root = tmp_path / "lab's wiki"
    shutil.copytree(EXAMPLE, root)
    skill = root / ".claude" / "skills" / "exp-run" / "SKILL.md"
    skill.parent.mkdir(parents=True)
    skill.write_bytes(ORIGINAL)
    os.chmod(skill, 0o640)
    os.utime(skill, (1_700_000_000, 1_700_000_000))
    return root


def skill_of(root: Path) -> Path:
    return root / ".claude" / "skills" / "exp-run" / "SKILL.md"


def frontmatter(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_install_keeps_the_original_and_uninstall_restores_it_byte_for_byte(wiki, exprun):
    done = exprun("install-skill", str(wiki))
    assert done.returncode == 0, done.stderr
    assert "kept the wiki's own skill" in done.stdout and (wiki / "Snakefile").is_file(), "it runs exprun init too"
    original = skill_of(wiki).with_name("SKILL.md.orig")
    assert original.read_bytes() == ORIGINAL
    text = skill_of(wiki).read_text()
    assert skill_mod.is_ours(text) == (True, True)
    meta = frontmatter(text)
    assert set(meta) == {"description", "argument-hint"}, "the wiki skill's frontmatter shape"
    for flag in ("<experiment-slug>", "--review", "--collect", "--check", "--full", "--env local|remote"):
        assert flag in meta["argument-hint"]
    assert "@" + "SNAKEMAKE_LOCAL@" not in text and "@EXPRUN_BIN@" not in text, "every placeholder filled in"

    again = exprun("install-skill", str(wiki))
    assert again.returncode == 0 and "already installed" in again.stdout
    assert original.read_bytes() == ORIGINAL, "a second install never touches the kept original"

    done = exprun("install-skill", str(wiki), "--uninstall")
    assert done.returncode == 0, done.stderr
    restored = skill_of(wiki)
    assert restored.read_bytes() == ORIGINAL and not original.exists()
    assert (restored.stat().st_mode & 0o777, int(restored.stat().st_mtime)) == (0o640, 1_700_000_000)


def test_an_edited_skill_is_never_overwritten_without_force(wiki, exprun):
    assert exprun("install-skill", str(wiki)).returncode == 0
    skill = skill_of(wiki)
    edited = skill.read_text().replace("## Rules", "## Rules\n\n- Our lab: always run with --review.")
    skill.write_text(edited)
    assert skill_mod.is_ours(edited) == (True, False)
    for args in ([], ["--uninstall"]):
        done = exprun("install-skill", str(wiki), *args)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
        assert "was edited since it was installed" in done.stderr and "--force" in done.stderr
        assert skill.read_text() == edited
    assert exprun("install-skill", str(wiki), "--force").returncode == 0
    assert skill_mod.is_ours(skill.read_text()) == (True, True)
    assert skill.with_name("SKILL.md.orig").read_bytes() == ORIGINAL


def test_an_edited_skill_is_dropped_by_uninstall_force_and_the_original_returns(wiki, exprun):
    assert exprun("install-skill", str(wiki)).returncode == 0
    skill_of(wiki).write_text(skill_of(wiki).read_text() + "\nan edit\n")
    assert exprun("install-skill", str(wiki), "--uninstall", "--force").returncode == 0
    assert skill_of(wiki).read_bytes() == ORIGINAL


def test_a_foreign_skill_beside_a_kept_original_is_refused(wiki, exprun):
    assert exprun("install-skill", str(wiki)).returncode == 0
    foreign = b"---\ndescription: someone else's runner\n---\n"
    skill_of(wiki).write_bytes(foreign)  # e.g. a `git checkout` of the wiki's newer /exp-run
    for args in ([], ["--uninstall"]):
        done = exprun("install-skill", str(wiki), *args)
        assert done.returncode == 1 and "is not exprun's skill" in done.stderr, done.stderr
        assert skill_of(wiki).read_bytes() == foreign
    assert skill_of(wiki).with_name("SKILL.md.orig").read_bytes() == ORIGINAL
    assert exprun("install-skill", str(wiki), "--force").returncode == 0
    assert skill_mod.is_ours(skill_of(wiki).read_text()) == (True, True)
    assert skill_of(wiki).with_name("SKILL.md.orig").read_bytes() == ORIGINAL, "--force never drops the original"


def test_a_wiki_without_its_own_skill_gets_ours_and_uninstall_removes_it(tmp_path, exprun):
    root = tmp_path / "wiki-root"
    shutil.copytree(EXAMPLE, root)
    assert exprun("install-skill", str(root)).returncode == 0
    assert skill_mod.is_ours(skill_of(root).read_text()) == (True, True)
    assert not skill_of(root).with_name("SKILL.md.orig").exists()
    done = exprun("install-skill", str(root), "--uninstall")
    assert done.returncode == 0 and "removed exprun's skill" in done.stdout
    assert not skill_of(root).parent.exists()
    done = exprun("install-skill", str(root), "--uninstall")
    assert done.returncode == 0 and "nothing to do" in done.stdout


def test_a_folder_that_is_no_wiki_is_refused_and_left_alone(tmp_path, exprun):
    done = exprun("install-skill", str(tmp_path))
    assert done.returncode == 1 and "no wiki/ folder" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_skill_follows_the_wikis_own_profiles_once_init_wrote_them(wiki, exprun):
    shipped = skill_mod.snakemake_commands(wiki)
    assert shipped["SNAKEMAKE_LOCAL"].startswith("snakemake --profile /") and "/local" in shipped["SNAKEMAKE_LOCAL"]
    assert exprun("install-skill", str(wiki)).returncode == 0  # runs `exprun init`: the wiki gets its profiles
    assert skill_mod.snakemake_commands(wiki) == {
        "SNAKEMAKE_LOCAL": "snakemake",
        "SNAKEMAKE_REMOTE": "snakemake --profile profiles/remote",
    }
    text = skill_of(wiki).read_text()
    assert "`snakemake deploy_{slug}`" in text and "use `snakemake --profile profiles/remote` in place of" in text


def test_every_exprun_command_of_the_skill_is_a_verb_exprun_has(wiki, exprun):
    assert exprun("install-skill", str(wiki)).returncode == 0
    named = commands(skill_of(wiki).read_text(), SLUG, str(wiki))
    verbs = {words[1] for words in named if program(words) == "exprun"}
    assert {"targets", "check-code", "approve", "init", "install-skill", "retry", "fetch-data"} <= verbs
    parser = build_parser()
    for words in named:
        if program(words) == "exprun":
            try:
                parser.parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"the skill names `{' '.join(words)}`, which exprun's parser refuses")


def test_the_skill_maps_collect_ready_to_one_command(wiki, exprun):
    assert exprun("install-skill", str(wiki)).returncode == 0
    text = skill_of(wiki).read_text()
    section = text.split("--collect-ready", 1)[1].split("---", 1)[0]
    named = commands(section, SLUG, str(wiki))
    assert [w[-1] for w in named if program(w) == "snakemake"] == ["collect_ready"]
