"""Where every per-experiment fact lives, relative to the wiki root.

Each path is spelled once, as an attribute of Paths (`Paths("my-exp").sanity`, visible to the reader, the
editor and mypy); PATTERNS, the same table with `{slug}` left open, is what the Snakemake rules fill with a
wildcard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import overload

from exprun.core.slugs import validate_slug


class At:
    """A path of one experiment, relative to the wiki root: `{slug}` filled by the Paths it is read from."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, paths: None, owner: type) -> At: ...
    @overload
    def __get__(self, paths: Paths, owner: type) -> Path: ...
    def __get__(self, paths: Paths | None, owner: type) -> Path | At:
        if paths is None:
            return self
        return Path(paths.root) / self.pattern.format(slug=paths.slug)


@dataclass(frozen=True)
class Paths:
    """Concrete paths of one experiment: `Paths("my-exp").sanity`."""

    slug: str
    root: Path = Path(".")

    def __post_init__(self) -> None:
        validate_slug(self.slug)

    page = At("wiki/experiments/{slug}.md")
    code_dir = At("experiments/code/{slug}")
    manifest = At("experiments/code/{slug}/.exprun-manifest.json")
    # the generate step's Snakemake output, written last: a failed job may delete it, never the manifest
    generated = At("experiments/state/{slug}/generated.stamp")
    state_dir = At("experiments/state/{slug}")
    context = At("experiments/state/{slug}/context.json")
    dataset = At("experiments/state/{slug}/dataset.json")
    review = At("experiments/state/{slug}/review.json")
    sanity = At("experiments/state/{slug}/sanity.json")
    contract = At("experiments/state/{slug}/contract.json")
    leftovers = At("experiments/state/{slug}/leftovers.json")
    codegen_rounds = At("experiments/state/{slug}/codegen.json")
    rounds_dir = At("experiments/state/{slug}/rounds")
    sanity_log = At("experiments/state/{slug}/sanity.log")
    sanity_results = At("experiments/state/{slug}/sanity/results")
    sanity_checkpoints = At("experiments/state/{slug}/sanity/checkpoints")
    approval = At("experiments/state/{slug}/approval.stamp")
    approval_binding = At("experiments/state/{slug}/approval.binding.json")
    approved_code = At("experiments/state/{slug}/approved-code")
    approval_diff = At("experiments/state/{slug}/approval.diff")
    approval_ok = At("experiments/state/{slug}/approval.verified")
    gate_message = At("experiments/state/{slug}/GATE.md")
    deployed = At("experiments/state/{slug}/deployed.stamp")
    jobs_started = At("experiments/state/{slug}/jobs.stamp")
    collected_jobs = At("experiments/state/{slug}/collected_jobs.json")
    run = At("experiments/state/{slug}/run.json")
    exit_status = At("experiments/state/{slug}/exit_status")
    autofix = At("experiments/state/{slug}/autofix.json")
    collected = At("experiments/state/{slug}/collected.json")
    collect_pending = At("experiments/state/{slug}/collect.pending.json")
    run_report = At("experiments/state/{slug}/RUN_REPORT.md")
    rule_logs = At("experiments/state/{slug}/logs")
    failure = At("experiments/state/{slug}/logs/failure.txt")  # the last failed step's message (workflow.failures)
    log = At("logs/exp-{slug}.log")
    results_dir = At("results/{slug}")
    results_attempts = At("results/{slug}/attempts")
    state_attempts = At("experiments/state/{slug}/attempts")
    checkpoint_dir = At("checkpoints/{slug}")
    plot = At("wiki/experiments/assets/{slug}-seeds.png")

    def seed_log(self, seed: int | str) -> Path:
        """The log of one seed job (`full_via: jobs`)."""
        return Path(self.root) / SEED_LOG.format(slug=self.slug, seed=seed)


SEED_LOG = "logs/exp-{slug}_seed{seed}.log"
PATTERNS = {name: value.pattern for name, value in vars(Paths).items() if isinstance(value, At)} | {
    "seed_log": SEED_LOG
}
