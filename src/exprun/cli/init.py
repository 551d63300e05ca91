"""`exprun init <wiki-root>`: make a research wiki runnable with plain `snakemake deploy_<slug>`."""

from __future__ import annotations

import argparse
from pathlib import Path

from exprun.cli.output import human_verb
from exprun.core import resources
from exprun.core.errors import ExprunError

SNAKEFILE_PATH = resources.snakefile()
SNAKEFILE = """# Written by `exprun init`: runs the exprun workflow on this wiki.
# Usage: snakemake deploy_<slug> | collect_<slug> | full_<slug> | status  (alone: lists the experiments)
include: {snakefile!r}


# The default target must be a rule of this file (Snakemake takes none from an include).
rule list_experiments:
    default_target: True
    localrule: True
    shell:
        EXPRUN + " targets"
"""


def init(root: Path) -> list[Path]:
    """Write a Snakefile (and a profile pointer) into a wiki root; never overwrites a different one."""
    root = Path(root)
    if not (root / "wiki").is_dir():
        raise ExprunError(f"{root}: no wiki/ folder here; give the folder that holds wiki/experiments/")
    written = []
    snakefile = root / "Snakefile"
    content = SNAKEFILE.format(snakefile=str(SNAKEFILE_PATH))
    if snakefile.exists() and snakefile.read_text() != content:
        raise ExprunError(
            f"{snakefile} exists and is not exprun's; move it away or add the line: include: {str(SNAKEFILE_PATH)!r}"
        )
    if not snakefile.exists():
        snakefile.write_text(content)
        written.append(snakefile)
    for sub in ("logs", "results", "checkpoints", "experiments/code", "experiments/state"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return written


def _run(args: argparse.Namespace) -> int:
    written = init(Path(args.wiki_root))
    for path in written:
        print(f"wrote {path}")
    print(f"ready: cd {args.wiki_root} && snakemake --profile {resources.profiles_dir() / 'local'} deploy_<slug>")
    return 0


def add_parser(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser("init", help="prepare a wiki root for `snakemake deploy_<slug>`")
    parser.add_argument("wiki_root")
    parser.set_defaults(handler=lambda a: human_verb(lambda: _run(a)))
