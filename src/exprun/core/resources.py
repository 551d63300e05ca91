"""Where exprun's own files are (the workflow, its profiles and config, package data), whether it runs
from a checkout or from an installed wheel: always through importlib.resources, never `__file__`'s parents.

In the checkout, `exprun/workflow_files/` holds links to the top-level Snakefile, rules/, profiles/ and
config/; a wheel carries their content there.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_file(*parts: str) -> Path:
    return Path(str(resources.files("exprun").joinpath(*parts)))


def workflow_dir() -> Path:
    return package_file("workflow_files")


def snakefile() -> Path:
    return workflow_dir() / "Snakefile"


def repo_config() -> Path:
    """exprun's own config/config.yaml, the first layer over the schema's defaults."""
    return workflow_dir() / "config" / "config.yaml"


def profiles_dir() -> Path:
    return workflow_dir() / "profiles"


def data_file(name: str) -> Path:
    return package_file("data", name)
