"""`exprun <verb>` builds only the parser of its verb's group: every Snakemake job starts an `exprun rule <step>`,
and importing every group (the verdict engine behind `watch`, scipy behind the gate's checklist) cost more than
most steps. These tests keep the verb table whole and the steps light."""

from __future__ import annotations

import subprocess
import sys

from exprun.cli import VERB_MODULES, build_parser

HEAVY = ("pandas", "scipy", "numpy", "matplotlib", "sklearn", "jsonschema", "paramiko", "rich")


def verbs_of(parser) -> set[str]:
    return set(next(a for a in parser._actions if a.dest == "group").choices)


def test_every_verb_is_in_the_table_and_its_module_builds_it():
    assert verbs_of(build_parser()) == set(VERB_MODULES)
    for verb in VERB_MODULES:
        assert verb in verbs_of(build_parser(verb=verb)), f"{verb}: cli/{VERB_MODULES[verb]}.py does not add it"


def test_an_unknown_verb_is_answered_with_every_verb(capsys):
    try:
        build_parser(verb="deplyo").parse_args(["deplyo"])
    except SystemExit as exc:
        assert exc.code == 2
    said = capsys.readouterr().err
    assert "invalid choice: 'deplyo'" in said and "'deploy'" in said and "'watch'" in said


def imported_by(verb: str, *modules: str) -> list[str]:
    """The heavy libraries in sys.modules after `exprun <verb>`'s parser and the step's own modules are imported."""
    code = (
        "import importlib, sys\n"
        "from exprun.cli import build_parser\n"
        f"build_parser(verb={verb!r})\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        f"print(' '.join(sorted(h for h in {HEAVY!r} if h in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_gate_and_the_launch_import_no_statistics_plotting_table_or_ssh_library():
    assert imported_by("rule", "exprun.workflow.steps", "exprun.gate.approval") == []
    assert imported_by("rule", "exprun.run.deploy", "exprun.run.screen_backend", "exprun.verdict.reports") == []


def test_collect_and_status_import_them_only_when_they_compute_or_draw():
    assert imported_by("rule", "exprun.finish.collect") == []  # scipy, matplotlib: inside the functions that use them
    assert imported_by("status", "exprun.finish.status") == []
    # a run on this machine's screen or on the login node's SLURM is read without SSH
    assert imported_by("rule", "exprun.run.screen_backend", "exprun.run.slurm_backend") == []
