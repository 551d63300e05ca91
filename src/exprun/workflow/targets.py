"""The per-experiment targets people type, and the overview the bare `snakemake` prints.

A wiki of 1,000 pages must not pay for 5,000 rules on every call: the workflow
makes the per-experiment rules only for the experiments named on the command
line (`deploy_<slug>` ...), none for a call that names only other targets
(`status`, `watch`, a file) or for a job's own Snakemake process, and all of them
when the command line names no target (`--list-rules`, `--lint`, the overview),
so nothing a person types goes missing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.invocation import snakemake_command
from exprun.core.paths import Paths
from exprun.finish import completion
from exprun.wiki import lifecycle, pages
from exprun.wiki.lifecycle import PageStatus

VERBS = ("prepare", "deploy", "collect", "check", "full")
TARGET = re.compile(rf"^({'|'.join(VERBS)})_(?P<slug>[a-z0-9-]+)$")


def next_step(status: str, slug: str, unknown: str = "fix the page's status") -> str:
    """The command that moves an experiment on from its status (with the options of the snakemake run that
    asks, exprun.core.invocation), then, for a planned one, the other targets after three spaces."""
    if status == PageStatus.PLANNED:
        deploy = snakemake_command(f"deploy_{slug}")
        return f"{deploy}   (prepare_{slug} first to review, full_{slug} to run and collect)"
    if status == PageStatus.RUNNING:
        return snakemake_command(f"collect_{slug}")
    if status == PageStatus.COMPLETED:
        return f"/exp-eval {slug}"
    if status == PageStatus.ABANDONED:
        return "set it back to planned to try again"
    return unknown


def asked_slugs(slugs: Iterable[str], argv: Iterable[str]) -> list[str]:
    """The experiments whose per-experiment targets the command line names; every one when it names none."""
    known = list(slugs)
    wanted = set()
    for word in argv:
        match = TARGET.fullmatch(str(word))
        if match:
            wanted.add(match.group("slug"))
    asked = [slug for slug in known if slug in wanted]
    return asked or known


def rule_slugs(slugs: Iterable[str], named: Iterable[str], job_process: bool = False) -> list[str]:
    """The experiments whose per-experiment rules a call builds, from the targets it names (`named`, split from
    its options): those its per-experiment targets name; none when it names only other targets (`status`,
    `watch`, `collect_ready`, a file) or when this is a job's own Snakemake process (`job_process`: it runs one
    generic rule's job); every one when it names none (a bare `snakemake`, `--list-rules`, `--lint`). A
    `snakemake status` in a wiki of 1,000 pages built 5,000 rules it never used."""
    named = [str(word) for word in named]
    if job_process:
        return []
    if not named:
        return list(slugs)
    wanted = {match.group("slug") for match in map(TARGET.fullmatch, named) if match}
    return [slug for slug in slugs if slug in wanted]


def unknown_targets(slugs: Iterable[str], argv: Iterable[str], rule_names: Iterable[str] = ()) -> list[str]:
    """Per-experiment target words on the command line whose experiment has no page (`collect_ready` and the
    other rules of the workflow are not such words)."""
    known, reserved = set(slugs), set(rule_names)
    found = []
    for word in map(str, argv):
        match = TARGET.fullmatch(word)
        if match and word not in reserved and match.group("slug") not in known:
            found.append(word)
    return found


def unknown_message(word: str, root: Path = Path(".")) -> str:
    """`deploy_typo`: no such experiment; every experiment, closest names first, each with its status and the
    command that fits it — the one meant may be completed (then `/exp-eval`, not another deploy)."""
    match = TARGET.fullmatch(word)
    assert match is not None  # `word` is one that unknown_targets found
    slug = match.group("slug")
    found = []
    for path in pages.experiment_pages(root):
        status = pages.quick_status(path) or "unreadable"
        found.append((difflib.SequenceMatcher(None, slug, path.stem).ratio(), path.stem, status))
    found.sort(key=lambda item: (-item[0], item[1]))
    listed = "; ".join(
        f"{name} ({status}: {next_step(status, name, 'fix the page').split('   ')[0]})"
        for _, name, status in found[:10]
    )
    return (
        f"{word}: no experiment '{slug}' in {Path(root) / pages.EXPERIMENTS_DIR}; "
        f"experiments, closest first: {listed or 'none'}"
    )


@dataclass(frozen=True)
class Requested:
    """What a per-experiment target asks Snakemake for, once the page's status allows it."""

    path: str
    fresh_deploy: bool = False  # a new deployment: the markers of an earlier one go aside before the DAG is built


REQUESTS = ("prepare", "deploy", "collect", "check", "full")  # the targets whose page status requested() checks


def requested(
    verb: str, slug: str, full_via: str = "detached", page_seeds: int = 3, root: Path = Path(".")
) -> Requested:
    """The file `<verb>_<slug>` needs; ExprunError (one line, naming the command that fits) when the page — its
    slug, its status — does not allow it. The Snakefile asks this for every target on the command line before it
    builds anything, so a refusal is one message, not Snakemake's traceback of an input function."""
    page = lifecycle.find_experiment(slug, root)
    paths = Paths(slug, root)
    if verb == "prepare":
        return Requested(str(paths.sanity))
    if verb in ("collect", "check"):
        if not (page.status == lifecycle.COMPLETED and completion.resumable(slug, root)):  # a collect cut short
            lifecycle.require_collectable(page)
        return Requested(str(page.path))
    if verb == "deploy":
        lifecycle.require_deployable(page)
        return Requested(str(paths.deployed), fresh_deploy=True)
    if verb != "full":
        raise ExprunError(f"unknown target {verb}_{slug} (one of {', '.join(f'{v}_{slug}' for v in REQUESTS)})")
    if full_via == "jobs":
        seed_result_files(slug, page_seeds, root)  # config.yaml must name the tasks the jobs run
        underway = page.status == lifecycle.RUNNING and paths.jobs_started.exists()
        target = paths.collected_jobs
    else:  # waits for a run it deployed earlier, finishes a collect cut short, or deploys a planned page
        underway = (page.status == lifecycle.RUNNING and paths.deployed.exists()) or (
            page.status == lifecycle.COMPLETED and completion.resumable(slug, root)
        )
        target = paths.collected
    if not underway:
        lifecycle.require_deployable(page)
    return Requested(str(target), fresh_deploy=not underway)


def seed_result_files(slug: str, page_seeds: int = 3, root: Path = Path(".")) -> list[str]:
    """One result file per task (`full_via: jobs`): per seed of config.yaml (the page's seeds before the code is
    generated), per arm when it has arms (results/<slug>/<arm>/seed_<N>.json)."""
    from exprun.core.errors import ConfigError
    from exprun.experiment import arms
    from exprun.experiment.experiment_config import ExperimentConfig, load_experiment_config
    from exprun.prepare.codegen.spec import build_spec

    try:
        experiment = load_experiment_config(slug, root)
    except ConfigError:
        planned = build_spec(lifecycle.find_experiment(slug, root), page_seeds).config
        experiment = ExperimentConfig.from_mapping(planned, "the page (config.yaml not generated yet)")
    return [arms.result_file(slug, task) for task in arms.tasks(list(experiment.arms), list(experiment.seeds))]


def refusal(
    slugs: Iterable[str],
    argv: Iterable[str],
    rule_names: Iterable[str] = (),
    full_via: str = "detached",
    page_seeds: int = 3,
    root: Path = Path("."),
) -> str | None:
    """Why the per-experiment targets on the command line cannot go on now (the first reason), else None: a
    name of no experiment, a page that cannot be read or whose slug is not its file name, a status that forbids
    the target. Read-only: nothing is written while the Snakefile is parsed."""
    known, reserved = list(slugs), set(rule_names)
    unknown = unknown_targets(known, argv, reserved)
    if unknown:
        return unknown_message(unknown[0], root)
    for word in map(str, argv):
        match = TARGET.fullmatch(word)
        if match and word not in reserved:
            verb, slug = match.group(1), match.group("slug")
            try:
                if verb in REQUESTS:
                    requested(verb, slug, full_via, page_seeds, root)
                else:  # a target that only reads: the page must be there and be what its file name says
                    lifecycle.find_experiment(slug, root)
            except ExprunError as exc:
                return str(exc)
    return None


def overview(root: Path = Path(".")) -> str:
    """Every experiment, its status and the command that moves it on."""
    rows = []
    for path in pages.experiment_pages(root):
        status = pages.quick_status(path)
        if status is None:
            try:
                status = pages.load_page(path).status
            except Exception as exc:  # noqa: BLE001 - a broken page is listed with its error, never a crash
                status = f"unreadable ({exc})"
        slug = path.stem
        rows.append((slug, status, next_step(status, slug)))
    if not rows:
        return f"No experiment pages in {Path(root) / pages.EXPERIMENTS_DIR}.\n"
    width = max(len(slug) for slug, _, _ in rows)
    lines = [
        "Experiments (targets: prepare_<slug>, deploy_<slug>, collect_<slug> or check_<slug>, full_<slug>; "
        "also: status, collect_ready):",
        "",
    ]
    lines += [f"  {slug.ljust(width)}  {status:<10}  next: {step}" for slug, status, step in rows]
    return "\n".join(lines) + "\n"
