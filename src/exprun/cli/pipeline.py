"""Pipeline verbs: `exprun approve|regenerate|init` for people, `exprun rule <step>` for the workflow."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import config as config_mod
from .. import gate, steps
from ..codegen import generate, manifest
from ..errors import ExprunError
from ..slugs import validate_slug
from ..state import Paths
from . import init as init_mod
from .output import human_verb


def settings_of(args: argparse.Namespace) -> dict:
    """Settings handed over by the workflow, else the same layers Snakemake reads (with --profile)."""
    if getattr(args, "settings_json", None):
        return config_mod.from_argument(args.settings_json)
    return config_mod.load(Path(args.root), getattr(args, "profile", None) or os.environ.get("EXPRUN_PROFILE"))


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """--profile for people (the Snakemake profile whose settings apply); --settings-json for the rules."""
    parser.add_argument("--profile", help="Snakemake profile whose exprun settings apply (a name such as remote or "
                                          "slurm, or a folder); default $EXPRUN_PROFILE, else the wiki's config alone")
    parser.add_argument("--settings-json", help=argparse.SUPPRESS)


def _approve(args: argparse.Namespace) -> int:
    stamp = gate.approve(validate_slug(args.slug), Path(args.root))
    print(f"approved {args.slug} as {stamp['approved_by']} at {stamp['approved_at']} (code {stamp['code_hash'][:12]})")
    if not stamp["sanity_passed"]:
        print(f"note: no passing sanity run recorded yet; `snakemake deploy_{args.slug}` runs it first")
    return 0


def _regenerate(args: argparse.Namespace) -> int:
    slug, root = validate_slug(args.slug), Path(args.root)
    changed = manifest.human_changes(Paths(slug, root).code_dir)
    if changed and not args.force:
        raise ExprunError(
            f"{slug}: refusing to regenerate — a person changed {', '.join(changed)} in {Paths(slug, root).code_dir}; "
            f"keep them, or overwrite with `exprun regenerate {slug} --force`"
        )
    result = generate.generate(slug, settings_of(args), root, force=args.force)
    print(f"regenerated {len(result.written)} files in {result.folder}")
    return 0


def _rule(args: argparse.Namespace) -> int:
    """One workflow step, as the rules run it; prints a short line on success, the full reason on failure."""
    if args.step == "run-seed":  # becomes the guarded run.sh of one seed (same PID, its exit status)
        from .. import deploy  # noqa: PLC0415

        if args.seed is None:
            raise ExprunError("rule run-seed needs --seed N")
        argv = deploy.run_seed_job(validate_slug(args.slug), args.seed, Path(args.root))
        sys.stdout.flush()
        os.execvp(argv[0], argv)
    print(steps.run(args.step, args.slug, settings_of(args), Path(args.root)))
    return 0


def add_parsers(groups: argparse._SubParsersAction) -> None:
    def common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--root", default=".", help="wiki root (the folder holding wiki/); default: here")
        return parser

    approve = common(groups.add_parser("approve", help="approve the reviewed code of an experiment"))
    approve.add_argument("slug")
    approve.set_defaults(handler=lambda a: human_verb(lambda: _approve(a)))

    regen = common(groups.add_parser("regenerate", help="regenerate an experiment's code from its page"))
    regen.add_argument("slug")
    regen.add_argument("--force", action="store_true", help="overwrite files a person changed")
    add_settings_options(regen)
    regen.set_defaults(handler=lambda a: human_verb(lambda: _regenerate(a)))

    rule = common(groups.add_parser("rule", help="one workflow step (called by the Snakemake rules)"))
    rule.add_argument("step", choices=(*steps.STEPS, "run-seed"))
    rule.add_argument("--seed", help="run-seed: the seed this job runs")
    rule.add_argument("slug")
    add_settings_options(rule)
    rule.set_defaults(handler=lambda a: human_verb(lambda: _rule(a)))

    init_mod.add_parser(groups)



