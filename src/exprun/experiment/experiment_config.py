"""Read an experiment's `config.yaml`: the live one (after any human edits) or the one a run executes.

A run reads the config.yaml of its approved snapshot (snapshots/<hash>/<slug>/), never the live folder:
an edit of the live config.yaml while the run goes (its seeds, its criteria) changes neither what runs nor
how the run is judged.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from exprun.core import yamlread
from exprun.core.errors import ConfigError
from exprun.core.paths import Paths
from exprun.experiment import seeds


def read_config_file(path: Path, slug: str) -> dict:
    """config.yaml at `path` as a mapping, its seeds checked (distinct whole numbers within bounds)."""
    try:
        data = yamlread.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; generate the code first: `snakemake prepare_{slug}`") from None
    except yaml.YAMLError as exc:
        line, problem = yamlread.error_line(exc)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    if "seeds" in data:
        seeds.check(data["seeds"], str(path))
    return data


def load_experiment_config(slug: str, root: Path = Path(".")) -> dict:
    return read_config_file(Paths(slug, root).code_dir / "config.yaml", slug)


def load_run_config(slug: str, root: Path, snapshot: str = "") -> dict:
    """The config.yaml a run executes: its snapshot's when it has one (runs before snapshots: the live one)."""
    if snapshot:
        return read_config_file(Path(root) / snapshot / "config.yaml", slug)
    return load_experiment_config(slug, root)
