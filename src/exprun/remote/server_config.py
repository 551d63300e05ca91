"""config/server.yaml: read, validate against the schema (which carries the defaults), type.

Errors are one line naming the file and the field, like every other exprun
setting, so a person fixes the file without reading a traceback.
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import jsonschema
import yaml

from exprun.core import resources
from exprun.core.config import fill_defaults, read_yaml
from exprun.core.errors import ConfigError

SCHEMA_PATH = resources.data_file("server.schema.yaml")
EXAMPLE_PATH = resources.workflow_dir() / "config" / "server.example.yaml"
DEFAULT_PATH = Path("config") / "server.yaml"
DEFAULT_CONNECT_TIMEOUT_S = 10.0


@dataclass
class ServerConfig:
    """The validated server settings; `explicit` names the keys the file itself set."""

    source: str
    host: str
    user: str
    work_dir: str
    port: int = 22
    identity_file: Path | None = None
    known_hosts: Path | None = None
    proxy_jump: str = ""
    ssh_options: dict = field(default_factory=dict)
    gpus: str = ""
    free_gpu_threshold_mib: int = 500
    conda: dict | None = None
    env_setup: str | None = None
    sync_include: list[str] = field(default_factory=list)
    sync_exclude: list[str] = field(default_factory=list)
    trust_new_host_keys: bool = False
    explicit: frozenset[str] = frozenset()

    @property
    def connect_timeout(self) -> float:
        return float(self.ssh_options.get("ConnectTimeout", DEFAULT_CONNECT_TIMEOUT_S))

    def excluded(self, rel: str) -> bool:
        """A sync.exclude pattern matches the relative path or the bare file name."""
        name = PurePosixPath(rel).name
        return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in self.sync_exclude)


def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def config_path(root: Path, given: str | None) -> Path:
    """--config as given (relative: from the wiki root); else config/server.yaml of the wiki root, then of the
    folder above it (where the wiki's own remote.py also looks)."""
    if given:
        return Path(given) if Path(given).is_absolute() else Path(root) / given
    here = Path(root) / DEFAULT_PATH
    above = Path(root) / ".." / DEFAULT_PATH
    return above if not here.exists() and above.exists() else here


def of_wiki(root: Path) -> ServerConfig:
    """The wiki root's server (config/server.yaml there, or in the folder above)."""
    return load(config_path(root, None), root)


def load(path: Path, root: Path = Path(".")) -> ServerConfig:
    """Read and check config/server.yaml; relative key/known_hosts paths are from the wiki root."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found; copy {EXAMPLE_PATH} there and set host, user and work_dir")
    raw = read_yaml(path)
    settings = validate(raw, str(path))
    return ServerConfig(
        source=str(path),
        host=settings["host"],
        user=settings["user"],
        work_dir=settings["work_dir"],
        port=settings["port"],
        identity_file=_local_path(settings.get("identity_file"), root),
        known_hosts=_local_path(settings.get("known_hosts"), root),
        proxy_jump=settings.get("proxy_jump", ""),
        ssh_options=settings["ssh_options"],
        gpus=settings["gpus"],
        free_gpu_threshold_mib=settings["free_gpu_threshold_mib"],
        conda=settings.get("conda"),
        env_setup=settings.get("env_setup"),
        sync_include=settings["sync"]["include"],
        sync_exclude=settings["sync"]["exclude"],
        trust_new_host_keys=settings["trust_new_host_keys"],
        explicit=frozenset(raw),
    )


def validate(raw: dict, source: str) -> dict:
    """Defaults filled, schema checked, then the rules a schema states badly (one env, safe globs)."""
    settings, rules = copy.deepcopy(raw), schema()
    fill_defaults(rules, settings)
    try:
        jsonschema.validate(settings, rules)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: field '{where}': {exc.message} (see {EXAMPLE_PATH.name})") from None
    if "conda" in raw and "env_setup" in raw:
        raise ConfigError(f"{source}: set at most one of 'conda' (path, env) or 'env_setup' (shell lines); found both")
    settings["ssh_options"] = _typed_ssh_options(settings["ssh_options"])
    for pattern in settings["sync"]["include"]:
        if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
            raise ConfigError(
                f"{source}: field 'sync.include': {pattern!r} must stay inside the wiki root (relative, no '..')"
            )
    return settings


def _typed_ssh_options(options: dict) -> dict:
    """The options exprun uses, typed (the wiki's files write them as strings); the others as given."""
    typed = dict(options)
    if "ConnectTimeout" in typed:
        typed["ConnectTimeout"] = float(typed["ConnectTimeout"])
    if "ServerAliveInterval" in typed:
        typed["ServerAliveInterval"] = int(typed["ServerAliveInterval"])
    if "Compression" in typed:
        typed["Compression"] = typed["Compression"] in (True, "yes")
    return typed


def _local_path(value: str | None, root: Path) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(root).resolve() / path
