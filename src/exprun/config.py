"""Settings: the schema carries the defaults; layers override in a fixed order.

Snakemake validates its own `config` against the same schema (rules/common.smk);
the package reads the same layers when a person runs `exprun` directly.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .files import atomic_write_text

SCHEMA_PATH = Path(__file__).with_name("data") / "config.schema.yaml"
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


def schema() -> dict:
    """A fresh copy each call (callers fill defaults into it); the file is read once."""
    return yaml.load(_schema_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def fill_defaults(node: dict, data: dict) -> None:
    for key, sub in node.get("properties", {}).items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if isinstance(data.get(key), dict) and sub.get("type") == "object":
            fill_defaults(sub, data[key])


def merge(base: dict, override: dict) -> dict:
    """Deep merge: mappings merge key by key, anything else replaces."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


FLAGS = ("review", "json")


def coerce_flags(settings: dict) -> None:
    """`--config review=true` may arrive as the string 'true'; make the on/off flags booleans."""
    for flag in FLAGS:
        if isinstance(settings.get(flag), str):
            settings[flag] = settings[flag].strip().lower() in ("1", "true", "yes", "on")


def validate(settings: dict, source: str = "config") -> dict:
    """Fill defaults and validate; errors name the field and the schema file."""
    import jsonschema  # noqa: PLC0415 - ~90 ms; the workflow's steps get settings validated already

    settings = copy.deepcopy(settings)
    fill_defaults(schema(), settings)
    try:
        jsonschema.validate(settings, schema())
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ConfigError(
            f"{source}: field '{where}': {exc.message} (see config/schema/config.schema.yaml)"
        ) from None
    return settings


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return data


def load(root: Path = Path("."), override: dict | None = None) -> dict:
    """Settings for a wiki root, as Snakemake would see them without a profile."""
    layers: list[tuple[str, dict]] = []
    for path in (REPO_CONFIG, Path(root) / "config" / "config.yaml"):
        if path.exists() and (path == REPO_CONFIG or not path.resolve() == REPO_CONFIG.resolve()):
            layers.append((str(path), read_yaml(path)))
    merged: dict[str, Any] = {}
    for _, layer in layers:
        merged = merge(merged, layer)
    if override:
        merged = merge(merged, override)
    return validate(merged, " + ".join(name for name, _ in layers) or "defaults")




SETTINGS_DIR = Path("experiments") / "state" / ".settings"


def settings_file(settings: dict, root: Path = Path(".")) -> str:
    """Write the workflow's settings once, named by their hash; rules pass the short path."""
    text = json.dumps(settings, sort_keys=True, indent=1)
    path = Path(root) / SETTINGS_DIR / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        atomic_write_text(path, text + "\n")
    return str(path)


def from_file(path: str) -> dict:
    """Settings handed over by a Snakemake rule: already layered and validated there, so only
    defaults are filled (no second schema check in every step's process)."""
    settings = read_json_file(Path(path))
    fill_defaults(schema(), settings)
    return settings


def read_json_file(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from None
