"""The seeds of an experiment: distinct whole numbers within a sane bound, checked in one place.

A seed names one run of the program and one result file (`seed_<N>.json`); a repeated seed would run
twice and count twice, and a range typed on the page (`seeds 0-100000000`) must not become a hundred
million runs. numpy's generators take seeds below 2**32, so that is the bound for each value; 1,000 seeds
per experiment is far beyond any run a person reads seed by seed, and the bound for the list.
"""

from __future__ import annotations

from typing import cast

from exprun.core.errors import ConfigError

MAX_SEEDS = 1000
MAX_SEED_VALUE = 2**32 - 1


def problem(values: object) -> str:
    """What is wrong with a list of seeds, in words ("" when nothing)."""
    if values is None:
        return "needs `seeds:` as a list of whole numbers, e.g. [0, 1, 2]"
    if not isinstance(values, list):
        return f"must be a list of whole numbers, e.g. [0, 1, 2] (got {type(values).__name__})"
    if not values:
        return "must name at least one seed, e.g. [0, 1, 2]"
    if len(values) > MAX_SEEDS:
        return f"{len(values)} seeds; at most {MAX_SEEDS} — name fewer seeds"
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in values):
        bad = next(s for s in values if not isinstance(s, int) or isinstance(s, bool))
        return f"must be whole numbers ({bad!r} is not)"
    out_of_range = next((s for s in values if not 0 <= s <= MAX_SEED_VALUE), None)
    if out_of_range is not None:
        return f"seed {out_of_range} must be between 0 and {MAX_SEED_VALUE}"
    seen: set[int] = set()
    for seed in values:
        if seed in seen:
            return f"seed {seed} appears twice; each seed runs once"
        seen.add(seed)
    return ""


def check(values: object, where: str) -> list[int]:
    """The seeds unchanged, or ConfigError naming the file and the field."""
    found = problem(values)
    if found:
        raise ConfigError(f"{where}: seeds {found}")
    return list(cast("list[int]", values))  # problem() found it a list of ints
