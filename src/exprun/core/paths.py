"""Where every per-experiment fact lives, relative to the wiki root.

One table used by the package and by the Snakemake rules (which fill `{slug}`
with a wildcard), so a path is spelled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exprun.core.slugs import validate_slug

PATTERNS = {
    "page": "wiki/experiments/{slug}.md",
    "code_dir": "experiments/code/{slug}",
    "manifest": "experiments/code/{slug}/.exprun-manifest.json",
    "state_dir": "experiments/state/{slug}",
    "context": "experiments/state/{slug}/context.json",
    "dataset": "experiments/state/{slug}/dataset.json",
    "review": "experiments/state/{slug}/review.json",
    "sanity": "experiments/state/{slug}/sanity.json",
    "contract": "experiments/state/{slug}/contract.json",
    "codegen_rounds": "experiments/state/{slug}/codegen.json",
    "rounds_dir": "experiments/state/{slug}/rounds",
    "sanity_log": "experiments/state/{slug}/sanity.log",
    "sanity_results": "experiments/state/{slug}/sanity/results",
    "sanity_checkpoints": "experiments/state/{slug}/sanity/checkpoints",
    "approval": "experiments/state/{slug}/approval.stamp",
    "approval_binding": "experiments/state/{slug}/approval.binding.json",
    "approval_ok": "experiments/state/{slug}/approval.verified",
    "gate_message": "experiments/state/{slug}/GATE.md",
    "deployed": "experiments/state/{slug}/deployed.stamp",
    "jobs_started": "experiments/state/{slug}/jobs.stamp",
    "collected_jobs": "experiments/state/{slug}/collected_jobs.json",
    "seed_log": "logs/exp-{slug}_seed{seed}.log",
    "run": "experiments/state/{slug}/run.json",
    "exit_status": "experiments/state/{slug}/exit_status",
    "autofix": "experiments/state/{slug}/autofix.json",
    "collected": "experiments/state/{slug}/collected.json",
    "collect_pending": "experiments/state/{slug}/collect.pending.json",
    "run_report": "experiments/state/{slug}/RUN_REPORT.md",
    "rule_logs": "experiments/state/{slug}/logs",
    "log": "logs/exp-{slug}.log",
    "results_dir": "results/{slug}",
    "results_attempts": "results/{slug}/attempts",
    "state_attempts": "experiments/state/{slug}/attempts",
    "checkpoint_dir": "checkpoints/{slug}",
    "plot": "wiki/experiments/assets/{slug}-seeds.png",
}


@dataclass(frozen=True)
class Paths:
    """Concrete paths of one experiment: `Paths("my-exp").sanity`."""

    slug: str
    root: Path = Path(".")

    def __post_init__(self) -> None:
        validate_slug(self.slug)

    def __getattr__(self, name: str) -> Path:
        try:
            pattern = PATTERNS[name]
        except KeyError:
            raise AttributeError(name) from None
        return Path(self.root) / pattern.format(slug=self.slug)
