# Config validation, experiment discovery and the get_* helpers the rules share.
import os
import shlex
import sys
import time
from functools import partial
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from exprun.core import config as exprun_config
from exprun.run import attempts
from exprun.finish import completion
from exprun.wiki import lifecycle, pages
from exprun.prepare.codegen.shaping import code_settings
from exprun.workflow import targets
from exprun.core.errors import ExprunError
from exprun.experiment.arms import ARM_NAME
from exprun.core.slugs import SLUG_PATTERN
from exprun.core.paths import PATTERNS, Paths

WIKI_CONFIG = Path("config/config.yaml")
if WIKI_CONFIG.exists() and not WIKI_CONFIG.resolve().samefile(exprun_config.REPO_CONFIG):

    configfile: str(WIKI_CONFIG)


exprun_config.coerce_flags(config)
validate(config, "../config/schema/config.schema.yaml", set_default=True)

# Each shell step calls the package through the interpreter that runs Snakemake. The validated settings reach
# it in the environment, $EXPRUN_SETTINGS, which every shell step inherits (a job that parses this file again,
# on SLURM through the executor plugin, sets it again from the same config): not on its command line (Snakemake
# prints a failed job's command, and it would be the whole settings), not in a file (nothing is written while the
# DAG is built; a dry run writes nothing), not in params (under Snakemake's default rerun triggers a change of
# params reruns a step: the profile forgotten once would regenerate the code). The generate step alone carries
# the settings that shape the code (exprun.prepare.codegen.shaping), so a change of those still regenerates it.
EXPRUN = f"{shlex.quote(sys.executable)} -m exprun"
os.environ[exprun_config.SETTINGS_ENV] = exprun_config.as_argument(config)


def get_code_settings(wildcards):
    """The code-shaping settings (a function: Snakemake would read the braces of a plain string as wildcards)."""
    return code_settings(config)


WORKFLOW_STARTED = time.time()

EXPERIMENT_SLUGS = sorted(p.stem for p in pages.experiment_pages() if SLUG_PATTERN.fullmatch(p.stem))


wildcard_constraints:
    slug=SLUG_PATTERN.pattern.strip("^$"),
    seed=r"-?\d+",
    arm=ARM_NAME.pattern.strip("^$"),


def get_code_files(wildcards):
    """The experiment's current code files, so a person's edit reruns the sanity check."""
    from exprun.prepare.codegen.manifest import code_files

    return [str(p) for p in code_files(Paths(wildcards.slug).code_dir)]


def _page_or_fail(slug):
    try:
        return lifecycle.find_experiment(slug)
    except ExprunError as exc:
        raise WorkflowError(str(exc)) from None


def _require_deployable(page):
    """A planned page has no deployment: markers of an earlier attempt are moved aside so it deploys again."""
    try:
        lifecycle.require_deployable(page)
        attempts.retire_markers(page.slug)
    except (ExprunError, OSError) as exc:
        raise WorkflowError(str(exc)) from None


def get_deploy_target(slug, wildcards=None):
    """deployed.stamp of a planned page; a running one is told to collect, a completed one to evaluate."""
    _require_deployable(_page_or_fail(slug))
    return str(Paths(slug).deployed)


def _deployed_or_deployable(slug):
    """full_<slug> waits for a run it deployed earlier (running, stamp there), or deploys a planned page."""
    stamp = Paths(slug).deployed
    page = _page_or_fail(slug)
    resuming = page.status == lifecycle.COMPLETED and completion.resumable(slug, Path("."))  # a collect cut short
    if not (page.status == lifecycle.RUNNING and stamp.exists()) and not resuming:
        _require_deployable(page)
    return str(stamp)


def get_collect_page(slug, wildcards=None):
    """The page, after checking that the status allows a collect (or that a collect stopped half-way)."""
    page = _page_or_fail(slug)
    if page.status == lifecycle.COMPLETED and completion.resumable(slug, Path(".")):
        return str(page.path)
    try:
        lifecycle.require_collectable(page)
    except ExprunError as exc:
        raise WorkflowError(str(exc)) from None
    return str(page.path)


def get_full_target(slug, wildcards=None):
    """Through deploy + wait (detached), or the seeds as Snakemake jobs (full_via: jobs)."""
    if config["full_via"] == "jobs":
        page = _page_or_fail(slug)
        if not (page.status == lifecycle.RUNNING and Paths(slug).jobs_started.exists()):
            _require_deployable(page)
        return str(Paths(slug).collected_jobs)
    _deployed_or_deployable(slug)
    return str(Paths(slug).collected)


def get_seed_results(wildcards):
    """One result file per task: per seed of config.yaml (the page's seeds before generation), per arm when
    it has arms (results/<slug>/<arm>/seed_<N>.json)."""
    from exprun.experiment import arms
    from exprun.prepare.codegen.spec import build_spec
    from exprun.core.errors import ConfigError
    from exprun.experiment.experiment_config import ExperimentConfig, load_experiment_config

    try:
        try:
            experiment = load_experiment_config(wildcards.slug)
        except ConfigError:
            planned = build_spec(_page_or_fail(wildcards.slug), config["codegen"]["seeds"]).config
            experiment = ExperimentConfig.from_mapping(planned, "the page (config.yaml not generated yet)")
        tasks = arms.tasks(list(experiment.arms), list(experiment.seeds))
    except ExprunError as exc:
        raise WorkflowError(str(exc)) from None
    return [arms.result_file(wildcards.slug, task) for task in tasks]


def get_seed_gpus(wildcards):
    """GPUs a seed job asks the executor for: exprun.prepare.gpu_plan decides whether it needs any."""
    from exprun.prepare.gpu_plan import gpu_plan

    plan = gpu_plan(_page_or_fail(wildcards.slug), Paths(wildcards.slug).code_dir, config["gpu"]["count"])
    return (config["slurm"]["gpus"] or plan.count) if plan.needed else 0


def print_gate_messages():
    """After a failed run, repeat any approval checklist written during it, as the last words."""
    for slug in EXPERIMENT_SLUGS:
        gate = Paths(slug).gate_message
        if gate.exists() and gate.stat().st_mtime >= WORKFLOW_STARTED - 1:
            rule_line = "=" * 72
            print(f"\n{rule_line}\n{gate.read_text()}{rule_line}", file=sys.stderr)
