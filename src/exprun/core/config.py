"""Settings: the schema carries the defaults; layers override in a fixed order.

Snakemake validates its own `config` against the same schema (rules/common.smk);
the package reads the same layers when a person runs `exprun` directly.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import yaml

from exprun.core import quickschema, resources, yamlread
from exprun.core.errors import ConfigError
from exprun.core.settings import Settings
from exprun.core.settings import from_dict as settings_from_dict

SCHEMA_PATH = resources.data_file("config.schema.yaml")
REPO_CONFIG = resources.repo_config()


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
    """Fill defaults and validate; errors name the field and the schema file. Settings that plainly conform are
    passed without jsonschema (exprun.core.quickschema: its import cost more than the rest of a Snakefile parse);
    jsonschema judges the rest and words what is wrong."""
    settings = copy.deepcopy(settings)
    rules = schema()
    fill_defaults(rules, settings)
    if quickschema.conforms(settings, rules):
        return settings
    import jsonschema  # ~0.1-0.2 s to import

    try:
        jsonschema.validate(settings, rules)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: field '{where}': {exc.message} (see config/schema/config.schema.yaml)") from None
    return settings


def read_yaml(path: Path) -> dict:
    try:
        data = yamlread.load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        line, problem = yamlread.error_line(exc)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings")
    return data


PROFILES_DIR = resources.profiles_dir()


def profile_dir(profile: str, root: Path = Path(".")) -> Path:
    """A profile by path, or by name: the wiki root's profiles/<name>, else exprun's own."""
    given = Path(profile).expanduser()
    candidates = (
        [given]
        if given.is_absolute() or "/" in profile
        else [Path(root) / "profiles" / profile, PROFILES_DIR / profile]
    )
    for folder in candidates:
        if (folder / "config.yaml").is_file():
            return folder
    names = ", ".join(sorted(p.name for p in PROFILES_DIR.glob("*") if (p / "config.yaml").is_file()))
    raise ConfigError(
        f"profile {profile!r}: no config.yaml in {' or '.join(map(str, candidates))}; "
        f"use one of {names} or a path to a Snakemake profile folder"
    )


def profile_layers(profile: str, root: Path = Path(".")) -> list[tuple[str, dict]]:
    """The exprun settings a Snakemake profile brings: its configfile(s), then its `config:` entries."""
    folder = profile_dir(profile, root)
    options = read_yaml(folder / "config.yaml")
    files = options.get("configfile") or options.get("configfiles") or []
    layers = [(str(folder / name), read_yaml(folder / name)) for name in ([files] if isinstance(files, str) else files)]
    entries = options.get("config") or []
    values = {}
    for entry in [entries] if isinstance(entries, str) else entries:
        key, _, raw = str(entry).partition("=")
        values[key.strip()] = yaml.safe_load(raw) if raw.strip() else raw
    if values:
        layers.append((f"{folder / 'config.yaml'} (config:)", values))
    return layers


def load(root: Path = Path("."), profile: str | None = None, override: dict | None = None) -> Settings:
    """The settings as Snakemake sees them with the same profile and --config: package defaults <- this
    repo's config/config.yaml <- the wiki root's config/config.yaml <- the profile's configfile <- override."""
    layers: list[tuple[str, dict]] = []
    for path in (REPO_CONFIG, Path(root) / "config" / "config.yaml"):
        if path.exists() and (path == REPO_CONFIG or not path.resolve() == REPO_CONFIG.resolve()):
            layers.append((str(path), read_yaml(path)))
    if profile:
        layers += profile_layers(profile, root)
    if override:
        layers.append(("--config", override))
    merged: dict[str, Any] = {}
    for _, layer in layers:
        merged = merge(merged, layer)
    coerce_flags(merged)
    return parse(merged, " + ".join(name for name, _ in layers) or "defaults")


def parse(data: dict, source: str = "config") -> Settings:
    """A mapping of settings, defaults filled and validated against the schema, as the typed object."""
    return settings_from_dict(validate(data, source))


# The workflow's validated settings, as the Snakefile hands them to its steps: in the environment every shell step
# inherits, not on the command line (Snakemake prints a failed job's command) and not in a rule's params (a change of
# params reruns a step under Snakemake's default rerun triggers; rules/common.smk).
SETTINGS_ENV = "EXPRUN_SETTINGS"


def as_argument(settings: dict | Settings) -> str:
    """The workflow's validated settings as one JSON word (for $EXPRUN_SETTINGS; no file written)."""
    data = settings.as_dict() if isinstance(settings, Settings) else settings
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def from_argument(text: str, source: str = "--settings-json") -> Settings:
    """Settings handed over by the workflow: already layered and validated there, so only
    defaults are filled (no second schema check in every step's process)."""
    try:
        settings = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source} is not JSON: {exc}") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{source} must be a JSON object of settings")
    fill_defaults(schema(), settings)
    return settings_from_dict(settings)
