"""Arms: the named variants one experiment compares (control, baselines, ablations, sweep points), each a
set of overrides on config.yaml, run for every seed. A task is one arm × one seed.

config.yaml:
    arms:
      - {name: full, role: control}
      - {name: no-weight-decay, role: ablation, factor: weight decay,
         overrides: {hyperparameters: {weight_decay: 0.0}}}
      - {name: "learning_rate=0.003", role: sweep, factor: "learning_rate=0.003",
         overrides: {hyperparameters: {learning_rate: 0.003}}}

A sweep grid on the page is expanded into explicit arms when the code is generated (`expand_sweep`), so
a program only ever looks its arm up by name. Without `arms:` an experiment is one arm: today's shape,
results/<slug>/seed_<N>.json. With arms, each arm writes results/<slug>/<arm>/seed_<N>.json; the
program applies an arm's overrides when run with `--arm NAME` (run contract v2).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from exprun.core.errors import ConfigError

ROLES = ("control", "baseline", "ablation", "sweep")
CLASSES = ("ESSENTIAL", "CONTRIBUTING", "MARGINAL", "HARMFUL")
ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,63}$")
SINGLE = ""  # the one arm of an experiment without `arms:`


@dataclass(frozen=True)
class Arm:
    name: str
    role: str = "control"
    overrides: dict = field(default_factory=dict)
    factor: str = ""  # ablation: the component removed; sweep: the swept value(s)
    expect: tuple[str, ...] = ()  # ablation: the classes the hypothesis expects (ESSENTIAL, CONTRIBUTING, ...)


def _dotted(path: str, value) -> dict:
    out: dict = value
    for key in reversed(path.split(".")):
        out = {key: out}
    return out


def _sweep_name(point: dict) -> str:
    text = ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.items())
    return re.sub(r"[^A-Za-z0-9._=+-]+", "", text.replace(",", "+"))[:64]


def expand_sweep(grid: dict) -> list[dict]:
    """{"hyperparameters.learning_rate": [a, b], ...} → one `sweep` arm per grid point, as config.yaml entries."""
    keys = list(grid)
    found = []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values, strict=False))
        overrides: dict = {}
        for path, value in point.items():
            overrides = merge(overrides, _dotted(path, value))
        name = _sweep_name(point)
        found.append({"name": name, "role": "sweep", "factor": name, "overrides": overrides})
    return found


def of(config: Mapping, where: str = "config.yaml") -> list[Arm]:
    """The arms of an experiment (a one-element list for a single-arm one); ConfigError naming the field."""
    given = config.get("arms") or []
    if not isinstance(given, list) or not all(isinstance(a, dict) for a in given):
        raise ConfigError(f"{where}: field 'arms' must be a list of {{name, role, overrides}} mappings")
    found = []
    for index, raw in enumerate(given):
        name, role = str(raw.get("name", "")), str(raw.get("role", "control"))
        if not ARM_NAME.fullmatch(name):  # with match, `$` also accepts a trailing newline
            raise ConfigError(f"{where}: arms[{index}].name {name!r}: letters, digits and ._=+- only, up to 64")
        if role not in ROLES:
            raise ConfigError(f"{where}: arms[{index}].role {role!r} must be one of {', '.join(ROLES)}")
        overrides = raw.get("overrides") or {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}: arms[{index}].overrides must be a mapping of settings")
        expect = raw.get("expect") or []
        expect = [expect] if isinstance(expect, str) else expect
        classes = tuple(str(e).upper() for e in expect)
        unknown = [c for c in classes if c not in CLASSES]
        if unknown:
            raise ConfigError(f"{where}: arms[{index}].expect {unknown[0]!r} must be one of {', '.join(CLASSES)}")
        found.append(Arm(name, role, overrides, str(raw.get("factor") or ""), classes))
    names = [a.name for a in found]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{where}: two arms are named {duplicate!r}; arm names must differ")
    if sum(a.role == "control" for a in found) > 1:
        raise ConfigError(f"{where}: more than one arm has role control; name one control")
    if any(a.role in ("ablation", "baseline") for a in found) and not any(a.role == "control" for a in found):
        raise ConfigError(f"{where}: ablation and baseline arms need a control arm (the method) to compare with")
    return found or [Arm(SINGLE)]


def merge(base: dict, override: dict) -> dict:
    """A copy of base with override merged in, key by key (nested mappings merge, anything else replaces)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def is_single(arms: list[Arm]) -> bool:
    return len(arms) == 1 and arms[0].name == SINGLE


def tasks(arms: list[Arm], seeds: list) -> list[str]:
    """Every arm × seed, as the `arm:seed` words run.sh reads (plain seeds for a single-arm experiment)."""
    if is_single(arms):
        return [str(s) for s in seeds]
    return [f"{arm.name}:{seed}" for arm in arms for seed in seeds]


def split_task(task: str) -> tuple[str, str]:
    """("arm", "seed") of an arm:seed word; ("", seed) of a plain seed."""
    arm, _, seed = task.rpartition(":")
    return arm, seed


def result_file(slug: str, task: str) -> str:
    """Where a task's result lands, relative to the wiki root (the run contract's layout)."""
    arm, seed = split_task(task)
    return f"results/{slug}/{arm + '/' if arm else ''}seed_{seed}.json"


def control(arms: list[Arm]) -> Arm | None:
    return next((a for a in arms if a.role == "control"), None)
