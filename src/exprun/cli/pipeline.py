"""Pipeline verbs: `exprun approve|regenerate|init` for people, `exprun rule <step>` for the workflow."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exprun.cli import init as init_mod
from exprun.cli.output import human_verb
from exprun.core import config as config_mod
from exprun.core.errors import ExprunError
from exprun.core.files import os_error_message
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.core.slugs import validate_slug
from exprun.workflow import failures, steps

# Each verb imports the stage it runs inside its function: `exprun rule <step>` is started by every Snakemake job,
# and importing every stage for each (the gate's checklist pulls in the verdict engine) cost more than most steps.


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings handed over by the workflow (--settings-json, or $EXPRUN_SETTINGS that the Snakefile sets for its
    steps), else the same layers Snakemake reads (with --profile, else $EXPRUN_PROFILE)."""
    if getattr(args, "settings_json", None):
        return config_mod.from_argument(args.settings_json)
    profile = getattr(args, "profile", None)
    if not profile and os.environ.get(config_mod.SETTINGS_ENV):
        return config_mod.from_argument(os.environ[config_mod.SETTINGS_ENV], f"${config_mod.SETTINGS_ENV}")
    return config_mod.load(Path(args.root), profile or os.environ.get("EXPRUN_PROFILE"))


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """--profile for people (the Snakemake profile whose settings apply); --settings-json for a caller that hands
    validated settings over explicitly (the rules use $EXPRUN_SETTINGS: a command line stays short)."""
    parser.add_argument(
        "--profile",
        help="Snakemake profile whose exprun settings apply (a name such as remote or "
        "slurm, or a folder); default $EXPRUN_PROFILE, else the wiki's config alone",
    )
    parser.add_argument("--settings-json", help=argparse.SUPPRESS)


def _approve(args: argparse.Namespace) -> int:
    from exprun.gate import approval as gate

    stamp = gate.approve(validate_slug(args.slug), Path(args.root))
    print(f"approved {args.slug} as {stamp['approved_by']} at {stamp['approved_at']} (code {stamp['code_hash'][:12]})")
    if not stamp["sanity_passed"]:
        print(f"note: no passing sanity run recorded yet; `{snakemake_command(f'deploy_{args.slug}')}` runs it first")
    return 0


def _regenerate(args: argparse.Namespace) -> int:
    from exprun.prepare.codegen import generate, manifest

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


def _check_code(args: argparse.Namespace) -> int:
    """The folder against the run contract, and the last sanity run's result file against the schema."""
    from exprun.core.files import read_json
    from exprun.experiment.experiment_config import readable
    from exprun.prepare import contract

    slug, root = validate_slug(args.slug), Path(args.root)
    paths = Paths(slug, root)
    found = contract.folder_checks(slug, root, settings_of(args))
    sanity = read_json(paths.sanity) if found.ok else {}
    seed = sanity.get("seed")
    seeds = sorted(paths.sanity_results.glob("seed_*.json")) if paths.sanity_results.is_dir() else []
    result = paths.sanity_results / f"seed_{seed}.json" if seed is not None else (seeds[0] if seeds else None)
    if result is not None and found.ok:
        raw, _ = contract.read_config(paths.code_dir / "config.yaml")
        found.checks.append(contract.result_check(result, readable(raw)[0] if raw is not None else None))
    print(f"{slug}: {paths.code_dir} against the run contract v{contract.VERSION} ({contract.DOC})")
    print("\n".join(found.lines()))
    optional = [
        f"{flag} ({why})" for flag, why in contract.OPTIONAL_FLAGS.items() if found.flags and flag not in found.flags
    ]
    if optional:
        print("  · optional flags it lacks: " + "; ".join(optional))
    if result is None and found.ok:
        prepare = snakemake_command(f"prepare_{slug}")
        print(f"  · result file: no sanity run yet (`{prepare}` runs it and checks its output)")
    if not found.ok:
        print(f"{len(found.problems())} problem(s): the sanity step stops on them before the gate", file=sys.stderr)
        return 1
    return 0


def _rule(args: argparse.Namespace) -> int:
    """One workflow step, as the rules run it; prints a short line on success, the full reason on failure."""
    if args.step == "run-seed":  # becomes the guarded run.sh of one seed (same PID, its exit status)
        from exprun.run import deploy

        if args.seed is None:
            raise ExprunError("rule run-seed needs --seed N")
        argv = deploy.run_seed_job(validate_slug(args.slug), args.seed, Path(args.root), args.arm or "")
        sys.stdout.flush()
        os.execvp(argv[0], argv)
    try:
        print(steps.run(args.step, args.slug, settings_of(args), Path(args.root)))
    except (ExprunError, OSError) as exc:  # said in full once, as the workflow's last words (workflow.failures)
        message = str(exc) if isinstance(exc, ExprunError) else os_error_message(exc)
        raise ExprunError(failures.record(validate_slug(args.slug), args.step, message, Path(args.root))) from None
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

    check = common(groups.add_parser("check-code", help="check an experiment's code folder against the run contract"))
    check.add_argument("slug")
    add_settings_options(check)
    check.set_defaults(handler=lambda a: human_verb(lambda: _check_code(a)))

    rule = common(groups.add_parser("rule", help="one workflow step (called by the Snakemake rules)"))
    rule.add_argument("step", choices=(*steps.STEPS, "run-seed"))
    rule.add_argument("--seed", help="run-seed: the seed this job runs")
    rule.add_argument("--arm", help="run-seed: the arm this job runs (experiments with arms)")
    rule.add_argument("slug")
    add_settings_options(rule)
    rule.set_defaults(handler=lambda a: human_verb(lambda: _rule(a)))

    init_mod.add_parser(groups)
