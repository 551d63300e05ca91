"""Hints repeat the snakemake command a person typed: its options split from its targets by Snakemake's own
parser, the one-run switches left out of hints for other targets, and nothing changed outside a Snakemake run."""

from __future__ import annotations

import errno

import pytest
from snakemake.cli import get_argument_parser

from exprun.core import invocation
from exprun.core.errors import LifecycleError
from exprun.core.files import os_error_message
from exprun.wiki import lifecycle, pages
from exprun.workflow import targets

ACTIONS = get_argument_parser()._option_string_actions
SLUG = "digits-mlp-vs-logreg"


@pytest.fixture
def typed(monkeypatch):
    """Stand in for rules/common.smk: record a command line as a Snakemake run does for its steps."""
    monkeypatch.delenv(invocation.OPTIONS_ENV, raising=False)
    monkeypatch.delenv(invocation.COMMAND_ENV, raising=False)

    def record(*argv: str) -> None:
        environ: dict[str, str] = {}
        invocation.remember(list(argv), ACTIONS, environ)
        for key, value in environ.items():
            monkeypatch.setenv(key, value)

    return record


@pytest.mark.parametrize(
    ("argv", "options", "found"),
    [
        (["--profile", "remote", "deploy_x"], ["--profile", "remote"], ["deploy_x"]),
        (["deploy_x", "--profile=slurm", "-c1"], ["--profile=slurm", "-c1"], ["deploy_x"]),
        (["-c", "2", "--prof", "remote", "collect_x"], ["-c", "2", "--prof", "remote"], ["collect_x"]),
        (["prepare_x", "-np", "--forcerun", "sanity_check"], ["-p"], ["prepare_x"]),
        (["-nR", "sanity_check", "prepare_x"], [], []),  # --forcerun takes every word up to the next option
        (["--until=deploy", "-F", "--config", "json=true", "--", "full_x"], ["--config", "json=true"], ["full_x"]),
        (["--directory", "lab's wiki", "status"], ["--directory", "lab's wiki"], ["status"]),
    ],
)
def test_options_and_targets_of_a_command_line(argv, options, found):
    assert invocation.split(argv, ACTIONS) == (options, found)


def test_hints_carry_the_options_of_the_run_and_drop_its_targets(typed):
    typed("--profile", "remote", "--directory", "lab's wiki", "-n", "deploy_x")
    assert (
        invocation.snakemake_command("collect_x")
        == "snakemake --profile remote --directory 'lab'\"'\"'s wiki' collect_x"
    )
    assert invocation.same_command("unused") == (
        "snakemake --profile remote --directory 'lab'\"'\"'s wiki' -n deploy_x"
    ), "the gate's 'run the same command again' is the command as typed"
    assert invocation.run_again() == f"run the same command again (`{invocation.same_command('')}`)"


def test_outside_a_snakemake_run_hints_are_as_before(typed):
    assert invocation.snakemake_command("collect_x") == "snakemake collect_x"
    assert invocation.snakemake_command("prepare_x", "--forcerun", "sanity_check", outside=["--profile", "p/r"]) == (
        "snakemake --profile p/r prepare_x --forcerun sanity_check"
    )
    assert invocation.same_command("snakemake deploy_x") == "snakemake deploy_x"
    assert invocation.run_again("snakemake command") == "run the same snakemake command again"


def test_a_bare_snakemake_run_keeps_hints_bare(typed):
    typed()
    assert invocation.snakemake_command("deploy_x") == "snakemake deploy_x"
    assert invocation.same_command("unused") == "snakemake"


def test_the_package_s_hints_name_the_profile(typed, example_wiki):
    typed("--profile", "local", f"deploy_{SLUG}")
    page = pages.load_page(example_wiki / "wiki" / "experiments" / f"{SLUG}.md")
    with pytest.raises(LifecycleError, match=f"deploy first: `snakemake --profile local deploy_{SLUG}`"):
        lifecycle.require_collectable(page)
    assert f"next: snakemake --profile local deploy_{SLUG}   (prepare_" in targets.overview(example_wiki)
    assert "planned: snakemake --profile local deploy_" in targets.unknown_message("deploy_nope", example_wiki)
    full = os_error_message(OSError(errno.ENOSPC, "No space left on device", "wiki/x.md"))
    assert full.endswith(f"free some space and run the same command again (`snakemake --profile local deploy_{SLUG}`)")
