"""Read an experiment's `config.yaml`: the live one (after any human edits) or the one a run executes.

A run reads the config.yaml of its approved snapshot (snapshots/<hash>/<slug>/), never the live folder:
an edit of the live config.yaml while the run goes (its seeds, its criteria) changes neither what runs nor
how the run is judged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from exprun.core import yamlread
from exprun.core.errors import ConfigError
from exprun.core.invocation import snakemake_command
from exprun.core.numbers import finite
from exprun.core.paths import Paths
from exprun.experiment import arms as arm_rules
from exprun.experiment import hardware as hardware_rules
from exprun.experiment import seeds
from exprun.experiment.arms import Arm

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_SEEDS = (0,)  # no `seeds:` (the run contract asks for it): one run, seed 0
PROGRESS_MODES = ("loss", "steps", "none")
STRICT = ("seeds", "arms", "hardware", "env_optional")  # the fields a wrong value of stops: each would run wrong


def _frozen(value: object) -> Mapping[str, Any]:
    return MappingProxyType(dict(value)) if isinstance(value, Mapping) else MappingProxyType({})


def baseline_numbers(data: Mapping[str, Any]) -> tuple[dict[str, float], str]:
    """config.yaml `baseline_results` (`{source, metrics: {...}}` or a plain `{metric: value}` mapping):
    its finite numbers and its source ("" when not given)."""
    given = data.get("baseline_results")
    if not isinstance(given, Mapping):
        return {}, ""
    numbers = given.get("metrics")
    values = numbers if isinstance(numbers, Mapping) else given
    source = given.get("source")
    return {str(k): float(v) for k, v in values.items() if finite(v)}, source if isinstance(source, str) else ""


@dataclass(frozen=True)
class ExperimentConfig:
    """An experiment's config.yaml, read once: what exprun reads from it, each with one default, and `raw`,
    the file as written (keys only the program reads travel in it untouched).

    Lenient about what it can read past (a wrong `progress` becomes "loss"): the run contract's check
    (prepare.contract.config_checks) names every such field before anything runs; strict about what
    would run wrong (seeds, arms, hardware, env_optional): ConfigError naming the file and the field."""

    raw: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "config.yaml"
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    metrics: tuple[str, ...] = ()
    primary_metric: str = ""
    higher_is_better: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    success_criteria: tuple[Mapping[str, Any], ...] = ()
    baseline: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    baseline_results: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    baseline_source: str = ""
    hyperparameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    dataset: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    progress: str = "loss"
    requires_env: tuple[str, ...] = ()
    env_optional: tuple[str, ...] = ()  # a person's waiver: names the code seems to need that deploy must not require
    framework: str = ""
    arms: tuple[Arm, ...] = (Arm(arm_rules.SINGLE),)
    hardware: int | None = None  # what the code needs when it differs from the page: 0 = cpu, N GPUs; None = the page's

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config.yaml") -> ExperimentConfig:
        seed_list = seeds.check(data["seeds"], source) if "seeds" in data else list(DEFAULT_SEEDS)
        metrics = tuple(str(m) for m in data.get("metrics") or [] if isinstance(m, str))
        criteria = data.get("success_criteria") or []
        numbers, source_of = baseline_numbers(data)
        progress = str(data.get("progress", "loss"))
        names = data.get("requires_env")
        return cls(
            raw=_frozen(data),
            source=source,
            seeds=tuple(seed_list),
            metrics=metrics,
            primary_metric=str(data.get("primary_metric") or (metrics[0] if metrics else "")),
            higher_is_better=_frozen({str(k): bool(v) for k, v in _frozen(data.get("higher_is_better")).items()}),
            success_criteria=tuple(_frozen(c) for c in criteria if isinstance(c, Mapping))
            if isinstance(criteria, list)
            else (),
            baseline=_frozen(data.get("baseline")),
            baseline_results=_frozen(numbers),
            baseline_source=source_of,
            hyperparameters=_frozen(data.get("hyperparameters")),
            dataset=_frozen(data.get("dataset")),
            progress=progress if progress in PROGRESS_MODES else "loss",
            requires_env=tuple(str(n) for n in names) if isinstance(names, list) else (),
            env_optional=env_optional_names(data, source),
            framework=str(data.get("framework") or ""),
            arms=tuple(arm_rules.of(dict(data), source)),
            hardware=hardware_rules.declared(data.get("hardware"), source),
        )

    def higher(self, metric: str) -> bool:
        """Whether more of `metric` is better (config's `higher_is_better`; higher when not said)."""
        return bool(self.higher_is_better.get(metric, True))

    @property
    def single_arm(self) -> bool:
        return arm_rules.is_single(list(self.arms))

    def with_overrides(self, overrides: Mapping[str, Any]) -> ExperimentConfig:
        """The config one arm runs with: its overrides merged into the file's settings."""
        return ExperimentConfig.from_mapping(arm_rules.merge(dict(self.raw), dict(overrides)), self.source)


def env_optional_names(data: Mapping[str, Any], source: str) -> tuple[str, ...]:
    """`env_optional: [NAME, ...]`: it decides what deploy refuses for, so a wrong shape stops rather than being
    read past."""
    names = data.get("env_optional") or []
    if not isinstance(names, list) or not all(isinstance(n, str) and ENV_NAME.fullmatch(n) for n in names):
        raise ConfigError(
            f"{source}: env_optional must be a list of environment variable names, e.g. `env_optional: [WANDB_DIR]`"
        )
    declared = data.get("requires_env")
    both = [n for n in names if isinstance(declared, list) and n in declared]
    if both:
        raise ConfigError(f"{source}: {', '.join(both)} both in requires_env and env_optional; keep each in one")
    return tuple(names)


def readable(data: object, source: str = "config.yaml") -> tuple[ExperimentConfig, str]:
    """For a report that must list every problem rather than stop at one (the gate's checklist): the config,
    and what could not be read (the file's seeds, arms, hardware and env_optional are then left at their defaults)."""
    raw = data if isinstance(data, Mapping) else {}
    try:
        return ExperimentConfig.from_mapping(raw, source), ""
    except ConfigError as exc:
        rest = {k: v for k, v in raw.items() if k not in STRICT}
        return ExperimentConfig.from_mapping(rest, source), str(exc)


def read_config_file(path: Path, slug: str) -> ExperimentConfig:
    """config.yaml at `path`, typed; ConfigError naming the file and the field for what cannot run."""
    try:
        data = yamlread.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: missing; generate the code first: `{snakemake_command(f'prepare_{slug}')}`"
        ) from None
    except yaml.YAMLError as exc:
        line, problem = yamlread.error_line(exc)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return ExperimentConfig.from_mapping(data, str(path))


def load_experiment_config(slug: str, root: Path = Path(".")) -> ExperimentConfig:
    return read_config_file(Paths(slug, root).code_dir / "config.yaml", slug)


def load_run_config(slug: str, root: Path, snapshot: str = "") -> ExperimentConfig:
    """The config.yaml a run executes: its snapshot's when it has one (runs before snapshots: the live one)."""
    if snapshot:
        return read_config_file(Path(root) / snapshot / "config.yaml", slug)
    return load_experiment_config(slug, root)
