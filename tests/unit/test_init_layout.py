"""`exprun init <dir>`: the wiki root it makes, what it never overwrites, and how profile names find the wiki's
copies (Snakemake's own profile reader and argument parser do the reading here, in-process)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from snakemake.cli import parse_args
from snakemake.profiles import ProfileConfigFileParser

from exprun.cli import profile_names
from exprun.cli.init import init
from exprun.core import config, resources
from exprun.core.errors import ExprunError
from exprun.wiki.wikilog import LOG_HEADER

NAMES = ["local", "remote", "slurm", "slurm-jobs"]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_profile(path: Path) -> dict:
    """A profile's config.yaml as Snakemake reads it (yte, then its path and value handling)."""
    with open(path) as stream:
        return dict(ProfileConfigFileParser().parse(stream))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Snakemake's user config folder for this test (platformdirs reads XDG_CONFIG_HOME at each call)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "snakemake"


def test_init_makes_a_wiki_root_of_a_folder_that_is_not_there(tmp_path, home):
    root = tmp_path / "new wiki"
    steps = init(root)
    assert (root / "wiki" / "experiments").is_dir()
    assert (root / "wiki" / "log.md").read_text() == LOG_HEADER
    for folder in ("logs", "results", "checkpoints", "experiments/code", "experiments/state"):
        assert (root / folder).is_dir(), folder
    assert f"include: {str(resources.snakefile())!r}" in (root / "Snakefile").read_text()
    assert (root / "profiles" / "default" / "config.yaml").is_file()
    for name in NAMES:
        shipped = resources.profiles_dir() / name
        assert files_of(root / "profiles" / name) == files_of(shipped), f"the wiki's own copy of profiles/{name}"
        assert profile_names.is_pointer(home / name)
    assert (root / "config" / "server.example.yaml").is_file()
    assert {step.action for step in steps} == {"made", "wrote"}


def test_init_again_keeps_everything_and_says_so(tmp_path, home):
    root = tmp_path / "wiki"
    init(root)
    before, pointers = files_of(root), files_of(home)
    steps = init(root)
    assert files_of(root) == before and files_of(home) == pointers
    assert {step.action for step in steps} == {"kept"}
    assert all("as exprun wrote it" in step.line() or "reads the wiki's" in step.line() for step in steps)


def test_init_never_overwrites_a_persons_file(example_wiki, home):
    log = example_wiki / "wiki" / "log.md"
    log_before = log.read_bytes()
    init(example_wiki)
    mine = {
        example_wiki / "profiles" / "remote" / "exprun.yaml": "env: remote\ncollect:\n  poll_s: 5\n",
        example_wiki / "profiles" / "default" / "config.yaml": "cores: 2\n",
        example_wiki / "config" / "server.example.yaml": "host: mine\n",
    }
    for path, text in mine.items():
        path.write_text(text)
    (example_wiki / "profiles" / "slurm" / "exprun.yaml").unlink()
    steps = init(example_wiki)
    assert log.read_bytes() == log_before, "the wiki's log with its entries is the person's"
    for path, text in mine.items():
        assert path.read_text() == text
        assert any(step.path == path and step.action == "kept" and "yours" in step.why for step in steps)
    assert [step.path.name for step in steps if step.action == "wrote"] == ["exprun.yaml"], "only what was missing"


def test_init_refuses_a_foreign_snakefile_and_writes_nothing(tmp_path, home):
    root = tmp_path / "wiki"
    root.mkdir()
    (root / "Snakefile").write_text("rule all:\n    input: []\n")
    with pytest.raises(ExprunError, match=r"is not exprun's; move it away or add the line: include: '/"):
        init(root)
    assert files_of(root) == {"Snakefile": b"rule all:\n    input: []\n"} and not home.exists()


def test_a_snakefile_init_wrote_for_another_exprun_gets_the_line_to_change(tmp_path, home):
    root = tmp_path / "wiki"
    init(root)
    snakefile = root / "Snakefile"
    old = snakefile.read_text().replace(str(resources.snakefile()), "/old/venv/exprun/workflow_files/Snakefile")
    snakefile.write_text(old)
    line = f"make its include line: include: '{resources.snakefile()}'"
    with pytest.raises(ExprunError, match=re.escape(line)):
        init(root)
    assert snakefile.read_text() == old


def test_init_refuses_a_file_as_the_wiki_root(tmp_path, home):
    (tmp_path / "notes").write_text("x")
    with pytest.raises(ExprunError, match="a file, not a folder"):
        init(tmp_path / "notes")


def test_a_profile_of_the_same_name_that_is_not_exprun_s_is_left_alone(tmp_path, home):
    theirs = home / "slurm" / "config.yaml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("executor: slurm\njobs: 100\n")
    (home / "local").mkdir()
    (home / "local" / "config.yaml").write_text(profile_names.MARK + " of an older exprun\ncores: 1\n")
    root = tmp_path / "wiki"
    root.mkdir()
    (root / "remote").mkdir()  # Snakemake finds ./remote before any user profile
    steps = {step.path: step for step in init(root)}
    assert theirs.read_text() == "executor: slurm\njobs: 100\n"
    assert "not exprun's" in steps[home / "slurm"].why and "--profile profiles/slurm" in steps[home / "slurm"].why
    assert steps[home / "local" / "config.yaml"].action == "updated", "exprun's own pointer is brought up to date"
    assert (
        "finds this first" in steps[root / "remote"].why and "--profile profiles/remote" in steps[root / "remote"].why
    )
    assert steps[home / "remote" / "config.yaml"].action == "wrote", "the pointer still serves the other wikis"
    assert steps[home / "slurm-jobs" / "config.yaml"].action == "wrote"


def test_an_unwritable_config_folder_is_a_note_not_a_failure(tmp_path, home):
    home.parent.mkdir()
    home.write_text("a file where Snakemake's folder would be")
    steps = init(tmp_path / "wiki")
    notes = [step for step in steps if step.action == "note"]
    assert len(notes) == 4 and all("could not write it" in step.why for step in notes)
    assert (tmp_path / "wiki" / "Snakefile").is_file()


def test_the_pointer_hands_on_the_wiki_s_own_profile(tmp_path, home, monkeypatch):
    root = tmp_path / "wiki"
    init(root)
    (root / "profiles" / "remote" / "config.yaml").write_text("cores: 3\nconfigfile: exprun.yaml\njobs: 2\n")
    monkeypatch.chdir(root)
    options = read_profile(home / "remote" / "config.yaml")
    assert options == {"cores": "3", "configfile": str(root / "profiles" / "remote" / "exprun.yaml"), "jobs": "2"}


def test_the_pointer_outside_a_wiki_root_stops_with_one_line(tmp_path, home, monkeypatch, capsys):
    init(tmp_path / "wiki")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        read_profile(home / "remote" / "config.yaml")
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "--profile path/to/profiles/remote" in message


def test_snakemake_reads_the_named_profile_whole_and_the_default_only_without_one(tmp_path, home, monkeypatch):
    """Snakemake's own parser, as `snakemake [--profile remote]` in the wiki root runs it: the workflow profile
    gives cores and rerun-triggers to a bare call, and never overrides what the wiki's remote profile sets."""
    root = tmp_path / "wiki"
    init(root)
    (root / "profiles" / "remote" / "config.yaml").write_text(
        "cores: 3\nrerun-triggers: [mtime, params]\nconfigfile: exprun.yaml\n"
    )
    monkeypatch.chdir(root)
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    for argv, cores, triggers, configfiles in [
        ([], 1, {"MTIME"}, []),
        (["--profile", "remote"], 3, {"MTIME", "PARAMS"}, [root / "profiles" / "remote" / "exprun.yaml"]),
        (["--profile", "local", "-c", "2"], 2, {"MTIME"}, [root / "profiles" / "local" / "exprun.yaml"]),
    ]:
        monkeypatch.setattr(sys, "argv", ["snakemake", *argv])
        _, args = parse_args(argv)
        assert args.cores == cores, argv
        assert {trigger.name for trigger in args.rerun_triggers} == triggers, argv
        assert [Path(p) for p in args.configfile] == configfiles, argv


def test_no_profile_means_the_local_profile_s_settings(example_wiki, home):
    """A bare `snakemake` in the wiki root runs with exprun's defaults: they must stay the local profile's."""
    init(example_wiki)
    assert config.load(example_wiki, "local") == config.load(example_wiki)
    assert config.load(example_wiki, "local").env == "local"


def test_the_pointer_text_names_its_profile():
    text = profile_names.pointer_text("slurm-jobs")
    assert text.startswith(profile_names.MARK) and 'wiki_profile("slurm-jobs")' in text and "$" not in text
