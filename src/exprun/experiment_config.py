"""Read the generated `config.yaml` of an experiment (after any human edits)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError
from .state import Paths


def load_experiment_config(slug: str, root: Path = Path(".")) -> dict:
    path = Paths(slug, root).code_dir / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; generate the code first: `snakemake prepare_{slug}`") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return data
