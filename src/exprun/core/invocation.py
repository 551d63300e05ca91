"""The `snakemake` command a hint tells a person to type: the one they typed, profile and options included.

A person who ran `snakemake --profile remote deploy_x` and is told `snakemake collect_x` gets the local
settings when they copy it. So the workflow records, once per Snakemake run, the options of its command line
in the environment its steps inherit (`remember`, called from rules/common.smk), and every hint exprun prints
is built here: `snakemake <those options> <target>`. Outside a Snakemake run (a plain `exprun ...` verb)
nothing is recorded and the hints read `snakemake <target>` as before.

For a hint about another target, the options that choose what runs this time (`-n`, `--forcerun`, `-F`,
`--until`, `--omit-from`, `--touch`) are left out: `--forcerun sanity_check` copied into a `collect_x` hint
would run the sanity check and the deploy again. The gate's "run the same command again" is the whole
command, as typed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

OPTIONS_ENV = "EXPRUN_SNAKEMAKE_OPTIONS"
COMMAND_ENV = "EXPRUN_SNAKEMAKE_COMMAND"

# Snakemake options (by their argparse dest) that decide what this one run does, not how runs are made.
THIS_RUN_ONLY = frozenset({"dryrun", "forcerun", "force", "forceall", "until", "omit_from", "touch"})


def split(argv: Sequence[str], actions: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(options, targets) of a Snakemake command line, words as typed; `actions` maps each option string to
    its argparse action (`parser._option_string_actions`), whose `nargs` says how many words follow it.
    Options that only shape this run (THIS_RUN_ONLY) are dropped, with their words."""
    options: list[str] = []
    targets: list[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            targets += words[i:]
            break
        if not word.startswith("-") or word == "-":
            targets.append(word)
            continue
        nargs, kept, values_kept = _option(word, actions)
        taken = _values(words, i, nargs)
        i += len(taken)
        options += ([kept] if kept else []) + (taken if values_kept else [])
    return options, targets


def _option(word: str, actions: Mapping[str, Any]) -> tuple[Any, str, bool]:
    """How many words after it an option word takes (0 when its value is attached: `--x=1`, `-c1`), the word
    to keep ("" for a THIS_RUN_ONLY option; a short cluster such as `-np` without its THIS_RUN_ONLY letters) and
    whether the words it takes are kept. An option Snakemake does not know is kept as typed."""
    if word.startswith("--"):
        name, eq, _ = word.partition("=")
        action = actions.get(name)
        if action is None:  # argparse takes a unique abbreviation (`--prof remote`)
            found = {id(a): a for option, a in actions.items() if option.startswith("--") and option.startswith(name)}
            action = next(iter(found.values())) if len(found) == 1 else None
        if action is None:
            return 0, word, True
        dropped = action.dest in THIS_RUN_ONLY
        return (0 if eq else action.nargs), ("" if dropped else word), not dropped
    kept = "-"
    for position in range(1, len(word)):
        action = actions.get("-" + word[position])
        if action is None:
            return 0, word, True
        if action.nargs != 0:  # the rest of the word is its value (`-c1`), else the next word is
            nargs = 0 if position + 1 < len(word) else action.nargs
            if action.dest in THIS_RUN_ONLY:
                return nargs, kept if kept != "-" else "", False
            return nargs, kept + word[position:], True
        if action.dest not in THIS_RUN_ONLY:
            kept += word[position]
    return 0, kept if kept != "-" else "", True


def _values(words: Sequence[str], start: int, nargs: Any) -> list[str]:
    """The words after an option that argparse gives it: one, or every word up to the next option."""
    if nargs == 0:
        return []
    rest = list(words[start:])
    if nargs is None:
        return rest[:1]
    if nargs == "?":
        return rest[:1] if rest and not rest[0].startswith("-") else []
    if isinstance(nargs, int):
        return rest[:nargs]
    taken = []
    for word in rest:
        if word.startswith("-"):
            break
        taken.append(word)
    return taken


def remember(argv: Sequence[str], actions: Mapping[str, Any], environ: Any = None) -> None:
    """Record this Snakemake run's command line for the hints its steps print (they inherit the environment)."""
    environ = os.environ if environ is None else environ
    options, _ = split(argv, actions)
    environ[OPTIONS_ENV] = shlex.join(options)
    environ[COMMAND_ENV] = shlex.join(["snakemake", *argv])


def snakemake_command(target: str, *extra: str, outside: Iterable[str] = ()) -> str:
    """`snakemake <options> <target> <extra>`: the options of the Snakemake run this process belongs to, or
    `outside` when it belongs to none (a plain `exprun` verb)."""
    recorded = os.environ.get(OPTIONS_ENV)
    options = shlex.split(recorded) if recorded is not None else list(outside)
    return shlex.join(["snakemake", *options, target, *extra])


def same_command(outside: str) -> str:
    """The command this Snakemake run was started with, as typed; `outside` when there is none."""
    return os.environ.get(COMMAND_ENV) or outside


def run_again(what: str = "command") -> str:
    """'run the same command again', naming the command inside a Snakemake run."""
    command = os.environ.get(COMMAND_ENV)
    return f"run the same {what} again" + (f" (`{command}`)" if command else "")
