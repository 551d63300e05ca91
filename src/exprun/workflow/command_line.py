"""rules/common.smk records the command line a person typed, for the hints the run's steps print."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exprun.core import invocation


def named_targets(argv: Sequence[str]) -> list[str]:
    """The targets a Snakemake command line names (its words that are no option nor an option's value), split by
    Snakemake's own parser; [] for a bare `snakemake` (the default target) or a listing such as `--list-rules`."""
    from snakemake.cli import get_argument_parser

    return invocation.split(argv, get_argument_parser()._option_string_actions)[1]


def remember(argv: Sequence[str], workflow: Any) -> None:
    """Record `argv` (the words after `snakemake`) in the environment the rules' commands inherit, split
    into options and targets by Snakemake's own parser (exprun.core.invocation builds the hints from it).
    A job's own Snakemake process (an executor plugin's job, a subprocess) runs a command line Snakemake
    wrote, not the person: it keeps the one it inherited."""
    if workflow.remote_exec or workflow.subprocess_exec:
        return
    from snakemake.cli import get_argument_parser

    invocation.remember(argv, get_argument_parser()._option_string_actions)
