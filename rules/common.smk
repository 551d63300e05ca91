# Config validation, experiment discovery and the get_* helpers the rules share.
import os
import shlex
import sys
from functools import partial
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger as snakemake_logger

from exprun.core import config as exprun_config
from exprun.run import attempts
from exprun.wiki import lifecycle, pages
from exprun.prepare.codegen.shaping import code_settings
from exprun.workflow import failures, targets
from exprun.core.errors import ExprunError
from exprun.experiment.arms import ARM_NAME
from exprun.core.slugs import SLUG_PATTERN
from exprun.core.paths import PATTERNS, Paths


def stop(message):
    """A refusal found while the Snakefile is parsed: one message on stderr, the last thing on the screen, and a
    failed exit (a WorkflowError would add Snakemake's file and line of this workflow)."""
    print(message, file=sys.stderr)
    sys.exit(1)


WIKI_CONFIG = Path("config/config.yaml")
if WIKI_CONFIG.exists() and not WIKI_CONFIG.resolve().samefile(exprun_config.REPO_CONFIG):

    configfile: str(WIKI_CONFIG)


exprun_config.coerce_flags(config)
try:  # the schema (config/schema/config.schema.yaml) fills the defaults; a wrong value is one line naming its field
    config.update(exprun_config.validate(config, "settings (config/config.yaml, the profile's configfile, --config)"))
except ExprunError as exc:
    stop(str(exc))

# Each shell step calls the package through the interpreter that runs Snakemake. The validated settings reach
# it in the environment, $EXPRUN_SETTINGS, which every shell step inherits (a job that parses this file again,
# on SLURM through the executor plugin, sets it again from the same config): not on its command line (Snakemake
# prints a failed job's command, and it would be the whole settings), not in a file (nothing is written while the
# DAG is built; a dry run writes nothing), not in params (under Snakemake's default rerun triggers a change of
# params reruns a step: the profile forgotten once would regenerate the code). The generate step alone carries
# the settings that shape the code (exprun.prepare.codegen.shaping), so a change of those still regenerates it.
EXPRUN = f"{shlex.quote(sys.executable)} -m exprun"
os.environ[exprun_config.SETTINGS_ENV] = exprun_config.as_argument(config)
failures.start_call()
snakemake_logger.addFilter(failures.SaidAlready())  # a step's failure is said by exprun, not as a file and line


def get_code_settings(wildcards):
    """The code-shaping settings (a function: Snakemake would read the braces of a plain string as wildcards)."""
    return code_settings(config)


EXPERIMENT_SLUGS = sorted(p.stem for p in pages.experiment_pages() if SLUG_PATTERN.fullmatch(p.stem))


wildcard_constraints:
    slug=SLUG_PATTERN.pattern.strip("^$"),
    seed=r"-?\d+",
    arm=ARM_NAME.pattern.strip("^$"),

# Hints repeat the command as typed, profile and options included (exprun.core.invocation).
from exprun.workflow import command_line

command_line.remember(sys.argv[1:], workflow)


def get_code_files(wildcards):
    """The experiment's current code files, so a person's edit reruns the sanity check."""
    from exprun.prepare.codegen.manifest import code_files

    return [str(p) for p in code_files(Paths(wildcards.slug).code_dir)]


def _page_or_fail(slug):
    try:
        return lifecycle.find_experiment(slug)
    except ExprunError as exc:
        raise WorkflowError(str(exc)) from None


def get_target_input(verb, slug, wildcards=None):
    """What <verb>_<slug> needs (exprun.workflow.targets.requested, also asked before the DAG is built: a refusal
    is one message there); a new deployment first moves the markers of an earlier one aside."""
    try:
        found = targets.requested(verb, slug, config["full_via"], config["codegen"]["seeds"])
        if found.fresh_deploy:
            attempts.retire_markers(slug)
    except (ExprunError, OSError) as exc:
        raise WorkflowError(str(exc)) from None
    return found.path


def get_seed_results(wildcards):
    """One result file per task (full_via: jobs), per seed and arm of config.yaml (the page's before generation)."""
    try:
        return targets.seed_result_files(wildcards.slug, config["codegen"]["seeds"])
    except ExprunError as exc:
        raise WorkflowError(str(exc)) from None


def get_seed_gpus(wildcards):
    """GPUs a seed job asks the executor for: exprun.prepare.gpu_plan decides whether it needs any."""
    from exprun.prepare.gpu_plan import gpu_plan

    plan = gpu_plan(_page_or_fail(wildcards.slug), Paths(wildcards.slug).code_dir, config["gpu"]["count"])
    return (config["slurm"]["gpus"] or plan.count) if plan.needed else 0


def print_failures():
    """After a failed run: the message of each step that failed in it (the gate's checklist, a one-line error),
    once, as the last words — then the call ends, before Snakemake adds its log path and its own error line."""
    messages = failures.of_this_call(targets.asked_slugs(EXPERIMENT_SLUGS, sys.argv))
    if messages:
        print(failures.last_block(messages), end="", file=sys.stderr)
        sys.exit(1)
