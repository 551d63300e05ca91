"""The run contract: what any experiment folder must satisfy so that sanity, deploy, monitoring, the
automatic fix and collect work on it, whoever wrote it (a built-in recipe, an LLM, a coding agent, a person).

docs/run-contract.md explains it; data/seed_result.schema.json is the result file's schema. The sanity
step runs these checks first, so a folder that breaks the contract stops before the gate, saying what
is missing; `exprun check-code <slug>` runs them on demand.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from exprun.core import resources, yamlread
from exprun.core.errors import ConfigError
from exprun.core.files import atomic_write_json, read_json
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment import arms, hardware
from exprun.experiment import seeds as seed_rules
from exprun.experiment.experiment_config import (
    DEFAULT_SEEDS,
    PROGRESS_MODES,
    ExperimentConfig,
    baseline_numbers,
    env_optional_names,
)
from exprun.machines import env_needs
from exprun.trust import integrity

VERSION = 2  # 2: arms (`arms:` in config.yaml, `--arm NAME`, results/<slug>/<arm>/seed_<N>.json)
DOC = "docs/run-contract.md"
REQUIRED_FILES = ("run.sh", "config.yaml")
REQUIRED_FLAGS = {
    "--seed": "which seed to run (run.sh passes it for every seed)",
    "--sanity": "minimal scale: a few steps on a small subset, before the gate",
    "--results-dir": "where seed_<N>.json goes (the sanity run writes into its own folder)",
    "--checkpoint-dir": "where checkpoints go (the sanity run keeps its own)",
}
OPTIONAL_FLAGS = {
    "--resume": "the automatic fix continues from the latest checkpoint",
    "--lr": "the automatic fix lowers the learning rate after a NaN or exploding loss",
    "--batch-size": "the automatic fix lowers the batch size after running out of GPU memory",
    "--log-every": "the sanity run logs every step",
}
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
HELP_TIMEOUT_S = 60


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    progress: str = "loss"

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def problems(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        return [f"  {'✓' if c.ok else '✗'} {c.name}: {c.detail}" for c in self.checks]


def run_env(settings: Settings, seeds: str, run_id: str, full: bool = True) -> dict:
    """The environment run.sh gets for a sanity or probe run (the seeds it runs, the run id it writes);
    `full=False`: only what exprun adds (for another machine, whose own environment applies there)."""
    # no bytecode caches in the code folder: a cache is never approved, and a run never reads one
    env = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "EXPRUN_SEEDS": seeds, "EXPRUN_RUN_ID": run_id}
    if full and settings.python:  # a path of this machine's
        env["EXPRUN_PYTHON"] = settings.python
    return {**os.environ, **env} if full else env


def read_config(path: Path) -> tuple[dict | None, str]:
    try:
        data = yamlread.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"cannot read {path.name}: {exc.strerror or exc}"
    except yaml.YAMLError as exc:
        line, problem = yamlread.error_line(exc)
        return None, f"{path.name}{line} is not valid YAML: {problem}"
    if not isinstance(data, dict):
        return None, f"{path.name} must be a mapping of settings"
    return data, ""


def config_checks(raw: Mapping[str, Any]) -> list[Check]:
    """The keys of config.yaml that exprun itself reads (seeds, metrics, criteria, progress, baseline), as written:
    every problem is a check of its own (ExperimentConfig reads past what it can and stops at seeds and arms)."""
    seeds = raw.get("seeds")
    seeds_wrong = seed_rules.problem(seeds)
    metrics = raw.get("metrics")
    metrics_ok = isinstance(metrics, list) and bool(metrics) and all(isinstance(m, str) for m in metrics)
    primary = raw.get("primary_metric", (metrics or [None])[0] if metrics_ok else None)
    criteria = raw.get("success_criteria", [])
    criteria_ok = isinstance(criteria, list) and all(
        isinstance(c, dict) and isinstance(c.get("metric"), str) for c in criteria
    )
    progress = raw.get("progress", "loss")
    checks = [
        Check("config.yaml seeds", not seeds_wrong, seeds_wrong or f"{seeds}"),
        Check(
            "config.yaml metrics",
            metrics_ok,
            f"{metrics}" if metrics_ok else "needs `metrics:` as a non-empty list of names",
        ),
        Check(
            "config.yaml primary_metric",
            metrics_ok and primary in (metrics or []),
            f"{primary}"
            if metrics_ok and primary in (metrics or [])
            else f"`primary_metric: {primary}` must be one of `metrics`",
        ),
        Check(
            "config.yaml success_criteria",
            criteria_ok,
            f"{len(criteria)} criterion(s)" if criteria_ok else "must be a list of mappings, each with `metric:`",
        ),
        Check(
            "config.yaml progress",
            progress in PROGRESS_MODES,
            f"{progress}"
            if progress in PROGRESS_MODES
            else f"`progress: {progress}` must be one of {', '.join(PROGRESS_MODES)}",
        ),
    ]
    try:
        found = arms.of(raw)
        checks.append(
            Check(
                "config.yaml arms",
                True,
                "one arm (no `arms:`)" if arms.is_single(found) else ", ".join(f"{a.name} ({a.role})" for a in found),
            )
        )
    except ConfigError as exc:
        checks.append(Check("config.yaml arms", False, str(exc).split(": ", 1)[-1]))
    if raw.get("hardware") is not None:  # what the code needs where it differs from the page (gpu_plan)
        try:
            count = hardware.declared(raw["hardware"])
            checks.append(Check("config.yaml hardware", True, hardware.describe(count or 0)))
        except ConfigError as exc:
            checks.append(Check("config.yaml hardware", False, str(exc).split(": ", 1)[-1]))
    if "requires_env" in raw:  # names only: a value never goes in config.yaml
        names = raw["requires_env"]
        ok = env_needs.valid_declaration(names)
        checks.append(
            Check(
                "config.yaml requires_env",
                ok,
                ", ".join(names) or "(none)"
                if ok
                else "must be a list of environment variable names, e.g. [OPENAI_API_KEY, LLM_BASE_URL]; "
                "never their values",
            )
        )
    if "env_optional" in raw:  # a person's waiver: shown, and a wrong shape named
        try:
            waived = env_optional_names(raw, "config.yaml")
            checks.append(Check("config.yaml env_optional", True, ", ".join(waived) or "(none)"))
        except ConfigError as exc:
            checks.append(Check("config.yaml env_optional", False, str(exc).split(": ", 1)[-1]))
    baseline = raw.get("baseline_results")
    if baseline is not None:
        values, _ = baseline_numbers(raw)
        checks.append(
            Check(
                "config.yaml baseline_results",
                bool(values),
                f"{values} (source: {baseline.get('source') if isinstance(baseline, dict) else '?'})"
                if values
                else "must be `{source: <where the numbers come from>, metrics: {<metric>: <number>}}`",
            )
        )
    return checks


def probe_flags(code_dir: Path, root: Path, seed: int, settings: Settings, machine=None) -> tuple[list[str], str]:
    """The flags `run.sh --help` lists (it passes --help to the program of the first seed), on the sanity run's
    machine (the server's environment, not this machine's, with the remote profile); here when none is given."""
    if machine is None:
        from exprun.machines.machine import Here

        machine = Here(root, settings)
    argv = ["bash", str(Path(code_dir).relative_to(root) / "run.sh"), "--help"]
    code, text = machine.run_quick(
        argv, run_env(settings, str(seed), "contract-probe", full=machine.here), HELP_TIMEOUT_S
    )
    if code is None:
        return [], _probe_timeout()
    return sorted(set(FLAG.findall(text))), text


def _probe_timeout() -> str:
    return (
        f"`run.sh --help` did not finish within {HELP_TIMEOUT_S} s: the program must print its flags "
        "and exit on --help instead of running"
    )


def folder_checks(slug: str, root: Path, settings: Settings, machine=None, run_dir: Path | None = None) -> Report:
    """Files, config.yaml and flags (what can be checked before anything runs); the flags from `run.sh --help`
    on the sanity run's machine when given, run from `run_dir` (the sanity run's snapshot) when given."""
    code_dir = Paths(slug, root).code_dir
    report = Report()
    for name in REQUIRED_FILES:
        present = (code_dir / name).is_file()
        report.checks.append(Check(f"file {name}", present, "present" if present else f"missing in {code_dir}"))
    if not report.ok:
        return report
    raw, error = read_config(code_dir / "config.yaml")
    if raw is None:
        report.checks.append(Check("config.yaml", False, error))
        return report
    report.checks += config_checks(raw)
    report.progress = str(raw.get("progress", "loss"))
    listed = raw.get("seeds")
    seeds = listed if isinstance(listed, list) and listed else list(DEFAULT_SEEDS)
    flags, text = probe_flags(run_dir or code_dir, root, seeds[0], settings, machine)
    report.flags = flags
    required = dict(REQUIRED_FLAGS)
    if raw.get("arms"):
        required["--arm"] = "run one arm of config.yaml `arms` (its overrides; results under <results-dir>/<arm>/)"
    for flag, why in required.items():
        ok = flag in flags
        detail = "listed by --help" if ok else f"not in `run.sh --help` ({why})"
        if not flags:
            detail = "`run.sh --help` lists no flags: " + (
                " ".join(text.strip().splitlines()[-3:])[:300] or "no output"
            )
        report.checks.append(Check(f"flag {flag}", ok, detail))
    return report


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # only when a result is checked

    schema = json.loads(resources.data_file("seed_result.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def result_problems(data) -> list[str]:
    """Where a seed result breaks data/seed_result.schema.json, one line each ([] when it conforms)."""
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


def result_check(path: Path, config: ExperimentConfig | None = None) -> Check:
    """The sanity run's seed file against the schema, and the metrics config.yaml names."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        return Check("results JSON", False, f"{path} was not written")
    except ValueError as exc:
        return Check("results JSON", False, f"{path} is not JSON: {exc}")
    problems = result_problems(data)
    if not problems and config:
        missing = [m for m in config.metrics if m not in data["metrics"]]
        if missing:
            problems.append(f"metrics: lacks {', '.join(missing)} (named in config.yaml metrics)")
    if problems:
        return Check("results JSON", False, f"{path.name} breaks the result schema — " + "; ".join(problems[:5]))
    return Check("results JSON", True, f"{path} conforms to the result schema")


def save(slug: str, root: Path, report: Report) -> None:
    """What the sanity step found, for the automatic fix (which flags exist) and the gate."""
    paths = Paths(slug, root)
    atomic_write_json(
        paths.contract,
        {
            "version": VERSION,
            "flags": report.flags,
            "progress": report.progress,
            "code_hash": integrity.folder_hash(paths.code_dir),
            "checks": [asdict(c) for c in report.checks],
        },
    )


def known_flags(slug: str, root: Path, code_hash: str) -> list[str] | None:
    """Flags this code listed at its check; None when this code was never checked."""
    data = read_json(Paths(slug, root).contract)
    if data.get("code_hash") != code_hash or not isinstance(data.get("flags"), list):
        return None
    return list(data["flags"])
